"""The journey canvas: React Flow components, their states and the views they render."""
