"""Value types shared by every part of the core."""
