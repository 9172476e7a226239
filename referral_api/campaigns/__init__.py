"""Outreach campaigns: codes, deep links, QR codes, the printable flyer, and their staff pages."""
