"""Pieces the pages share: the app shell, the status badge, the emotion face."""
