"""How the coursehub Hub is assembled."""
