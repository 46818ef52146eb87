"""Readers that turn captures and text traces into Datagrams."""
