"""What a run *is*, without torch: its spec and folder, its identity (code included) and its
typed result. The training code, the grid, the aggregate step and the report all go through
this package; none of its modules imports torch or a method plugin."""
