"""Revision files, named by date so they sort in the order they were written."""
