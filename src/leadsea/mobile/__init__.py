"""The mobile web app for BDs at /m/: nearby merchants, map, merchant 360, check-in, to-do, PWA shell."""
