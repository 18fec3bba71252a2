"""Manager reports over the sales fact tables: JSON and CSV from the admin API."""
