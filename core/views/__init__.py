"""What front ends show, computed without a UI toolkit: the incremental board view, lane rows, task
rows, event lines and the panels' rows."""
