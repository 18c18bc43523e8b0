"""Calendar feeds and `.ics` downloads: the URLs the API hands out, and resetCalendarFeed."""
