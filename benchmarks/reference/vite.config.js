import { defineConfig } from "vite";

// Relative asset paths: benchmarks/canvas.py serves dist/ from a static server of its own. Vite turns the JSX
// into React calls by itself, as the editor's build does, so no plugin is needed.
export default defineConfig({ base: "./" });
