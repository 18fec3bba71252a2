"""Precision marketing: member segments, their export, and service tasks for staff."""
