"""Working hours, dated exceptions, time off and the free-slot search."""
