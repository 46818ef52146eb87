"""QtGui painting shared by the screen and the PNG export (no widgets)."""
