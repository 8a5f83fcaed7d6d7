"""Reports: JSON Lines, console lines and the summary, the page a blocked client gets."""
