"""What tests share: one emulator handle, one `eventually`, one API client, typed factories."""
