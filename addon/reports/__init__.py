"""Reports: JSON Lines, console."""
