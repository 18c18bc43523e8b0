"""Sessions and the bookings of instructors, rooms and equipment."""
