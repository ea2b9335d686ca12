"""The panels of the main window, each a small widget with its dependencies passed in."""
