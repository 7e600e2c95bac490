"""Journey Builder's web app: pages that call the engine's services and render what they return."""
