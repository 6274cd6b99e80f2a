"""The read side the staff UI renders: lists, 我的待办, item timelines. Reads, never writes."""
