// The reference: React Flow with the options the editor uses (background, minimap, controls, visible
// elements only, snap), nodes laid out as benchmarks/canvas.py lays out its grid maps, and nothing else.
import React from "react";
import { createRoot } from "react-dom/client";
import { Background, Controls, MiniMap, ReactFlow, useEdgesState, useNodesState } from "@xyflow/react";
import "@xyflow/react/dist/style.css";

const LANES = 10;
const LANE_WIDTH = 320;
const n = Number(new URLSearchParams(location.search).get("n") || 30);

const initialNodes = Array.from({ length: n }, (_, i) => ({
  id: `n${i}`,
  type: "default",
  className: "react-flow__node-card",
  position: { x: (i % LANES) * LANE_WIDTH + 40, y: 80 + Math.floor(i / LANES) * 140 },
  data: { label: `Card ${i + 1}` },
  style: { width: 240 },
}));
const initialEdges = initialNodes.slice(1).map((node, i) => ({
  id: `e${i}`,
  source: initialNodes[i].id,
  target: node.id,
  type: "smoothstep",
}));

function App() {
  const [nodes, , onNodesChange] = useNodesState(initialNodes);
  const [edges, , onEdgesChange] = useEdgesState(initialEdges);
  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      fitView
      minZoom={0.02}
      snapToGrid
      snapGrid={[20, 20]}
      onlyRenderVisibleElements
    >
      <Background gap={20} size={1} />
      <Controls />
      <MiniMap />
    </ReactFlow>
  );
}

createRoot(document.getElementById("root")).render(<App />);
