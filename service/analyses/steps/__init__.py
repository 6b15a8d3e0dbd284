"""Worker steps: what the worker does to a claimed analysis, one step at a time."""
