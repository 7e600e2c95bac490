// The journey canvas: React Flow with stage lanes, touchpoint cards and the emotion curve.
//
// Positions live here while a designer drags; the server hears of a gesture only when it is
// committed (drag stop, connect, delete, drop, copy/paste, undo/redo). Everything the cards show
// comes from the server's props, so the document on the server stays the single source of truth.
//
// The map arrives as one JSON text (cards, edges, lanes), parsed once per change; a card whose
// fields did not change keeps its node object, so React Flow and the memoised card skip it.
//
// The KPI overlay arrives as its own prop and is laid over the drawn map (a context for the
// cards and lanes, a memo for the edges), so a refresh never rebuilds the nodes: positions,
// selection and the viewport stay where they are.
import React, { createContext, memo, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  BaseEdge,
  Controls,
  EdgeLabelRenderer,
  Handle,
  MiniMap,
  ControlButton,
  Position,
  ReactFlow,
  ReactFlowProvider,
  getNodesBounds,
  getSmoothStepPath,
  getViewportForBounds,
  useEdgesState,
  useNodesState,
  useReactFlow,
  useStore,
} from "@xyflow/react";
import { toPng } from "html-to-image";
import "@xyflow/react/dist/style.css";
import "./journey_canvas.css";

const LANE_WIDTH = 320;
const LANE_INSET = 10;
const CARD_WIDTH = 240;
const GRID = 20;
const CURVE_HEIGHT = 150;
const KIND_MIME = "application/x-journey-kind";
// How often an open overlay asks for fresh figures; a hidden tab skips its turns.
const REFRESH_MS = 5000;
// Room above the lanes for the stage figures, which sit on top of each lane's header.
const STAGE_KPI_ROOM = 100;
const KPI_STROKE = "#4f46e5";
const IDLE_STROKE = "#cbd5e1";

// The overlay's figures while it is on, else null.
const KpiContext = createContext(null);
// True while a PNG is being drawn: every card in full, whatever the zoom, and none left out as off-screen.
const ExportContext = createContext(false);
// Below this zoom the whole map may be made to fit; small enough for maps of thousands of cards.
const MIN_ZOOM = 0.01;
// Screen room kept free at fit so that neither the zoom controls (bottom left) nor the minimap (bottom right)
// covers a lane or the emotion curve: beside them when the map is tall, above them when it is wide.
const FIT_LEFT_PX = 56;
const FIT_RIGHT_PX = 184;
const FIT_BOTTOM_PX = 160;
const FIT_MARGIN_PX = 12;

const KIND_COLOURS = {
  trigger: "#16a34a",
  wait: "#d97706",
  wait_for_event: "#ea580c",
  branch: "#7c3aed",
  split: "#9333ea",
  send: "#2563eb",
  update_profile: "#0d9488",
  goal: "#059669",
  exit: "#64748b",
  touchpoint: "#db2777",
  human_task: "#0891b2",
};

// Small inline icons (24-unit viewBox, stroked) so nothing depends on an icon font being present.
const ICON_PATHS = {
  email: "M3 6h18v12H3z M3 7l9 6 9-6",
  sms: "M4 5h16v11H9l-5 4z",
  push: "M6 16V11a6 6 0 0 1 12 0v5l2 2H4z M10 20h4",
  in_app: "M7 3h10v18H7z M11 18h2",
  web: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M3 12h18 M12 3c3 3 3 15 0 18 M12 3c-3 3-3 15 0 18",
  chat: "M4 5h16v10H8l-4 4z M8 9h8 M8 12h5",
  voice: "M6 3l4 4-2 3a11 11 0 0 0 6 6l3-2 4 4-3 3C10 21 3 14 3 6z",
  webhook: "M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1 M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1",
  trigger: "M13 2L4 14h7l-1 8 9-12h-7z",
  wait: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 7v5l3 3",
  wait_for_event: "M6 3h12 M6 21h12 M7 3c0 5 10 7 10 9s-10 4-10 9 M17 3c0 5-10 7-10 9s10 4 10 9",
  branch: "M6 3v12 M18 9a3 3 0 1 0 0-6a3 3 0 1 0 0 6z M6 21a3 3 0 1 0 0-6a3 3 0 1 0 0 6z M18 9c0 5-12 3-12 6",
  split: "M12 21V12 M12 12L5 4 M12 12l7-8 M5 4v5 M5 4h5 M19 4v5 M19 4h-5",
  send: "M3 11l18-8-8 18-2-8z M11 13l10-10",
  update_profile: "M12 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8z M4 21c0-4 4-7 8-7 M15 19l2 2 4-4",
  goal: "M5 21V4 M5 4h12l-3 4 3 4H5",
  exit: "M14 4h5v16h-5 M10 8l-4 4 4 4 M6 12h10",
  fit: "M4 9V4h5 M20 9V4h-5 M4 15v5h5 M20 15v5h-5",
  tidy: "M4 4h6v6H4z M14 4h6v6h-6z M4 14h6v6H4z M14 14h6v6h-6z",
  image: "M3 5h18v14H3z M3 16l5-5 4 4 3-3 6 6 M15 9a1.5 1.5 0 1 0 0.01 0",
  touchpoint: "M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7z M12 7a2 2 0 1 0 0 4a2 2 0 1 0 0-4z",
  human_task: "M9 7a3 3 0 1 0 0 6a3 3 0 1 0 0-6z M3 20c0-3 3-5 6-5s6 2 6 5 M15 6l2 2 4-4 M15 13h6",
};

function Icon({ name, size = 14, color = "currentColor" }) {
  const d = ICON_PATHS[name];
  if (!d) return null;
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke={color} strokeWidth="2"
      strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
      <path d={d} />
    </svg>
  );
}

export function emotionColour(value) {
  if (value === null || value === undefined) return "#cbd5e1";
  const colours = { "-2": "#dc2626", "-1": "#f97316", "0": "#eab308", "1": "#84cc16", "2": "#16a34a" };
  return colours[String(Math.max(-2, Math.min(2, Math.round(value))))];
}

function Face({ emotion, size = 20 }) {
  const mouth = 15 + emotion * 1.6;
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-label={`emotion ${emotion}`}>
      <circle cx="12" cy="12" r="11" fill={emotionColour(emotion)} />
      <circle cx="8.5" cy="9.5" r="1.4" fill="#1f2937" />
      <circle cx="15.5" cy="9.5" r="1.4" fill="#1f2937" />
      <path d={`M7 15 Q12 ${mouth} 17 15`} stroke="#1f2937" strokeWidth="1.6" fill="none" strokeLinecap="round" />
    </svg>
  );
}

// Below this zoom a card's 13-pixel title would be drawn under 8 pixels, too small to read: the card is drawn
// as its title in large type on its kind's colour instead (and the stage names along the top of the pane).
const OVERVIEW_ZOOM = 0.6;
const overviewSelector = (state) => state.transform[2] < OVERVIEW_ZOOM;

function NodeKpi({ figures, forecast }) {
  return (
    <div className={forecast ? "jc-kpi-node jc-kpi-forecast" : "jc-kpi-node"} data-testid="node-kpi"
      data-forecast={forecast ? "true" : "false"}>
      <div className="jc-kpi-node-counts">{figures.counts}</div>
      {figures.messages ? <div className="jc-kpi-node-messages">{figures.messages}</div> : null}
      {figures.tasks ? <div className="jc-kpi-node-messages" data-testid="node-task-kpi">{figures.tasks}</div> : null}
      {figures.outcomes ? <div className="jc-kpi-node-messages">{figures.outcomes}</div> : null}
    </div>
  );
}

const CardNode = memo(function CardNode({ data, selected }) {
  const accent = KIND_COLOURS[data.kind] || "#64748b";
  const exporting = useContext(ExportContext);
  const overview = useStore(overviewSelector) && !exporting;
  const kpi = useContext(KpiContext);
  const figures = kpi ? kpi.nodes[data.id] : null;
  const classes = ["jc-card"];
  if (selected) classes.push("jc-selected");
  if (data.severity) classes.push(`jc-${data.severity}`);
  if (overview) {
    classes.push("jc-card-overview");
    return (
      <div className={classes.join(" ")} style={{ "--accent": accent }} data-node-id={data.id} data-kind={data.kind}>
        <Handle type="target" position={Position.Top} id="top" />
        <Handle type="target" position={Position.Left} id="left" />
        <div className="jc-overview-title">{data.title || data.kind_label}</div>
        <span className="jc-overview-emotion" style={{ background: emotionColour(data.emotion) }} />
        {figures ? <span className="jc-overview-kpi">{figures.customers.toLocaleString("en-US")}</span> : null}
        <Handle type="source" position={Position.Bottom} id="bottom" />
        <Handle type="source" position={Position.Right} id="right" />
      </div>
    );
  }
  return (
    <div className={classes.join(" ")} style={{ "--accent": accent }} data-node-id={data.id} data-kind={data.kind}>
      <Handle type="target" position={Position.Top} id="top" />
      <Handle type="target" position={Position.Left} id="left" />
      <div className="jc-card-head">
        <span className="jc-kind-chip"><Icon name={data.kind} size={12} color={accent} />{data.kind_label}</span>
        {data.channel ? <span className="jc-channel" title={data.channel}><Icon name={data.channel} size={14} /></span> : null}
      </div>
      <div className="jc-card-title">{data.title || <em>Untitled</em>}</div>
      {data.hint ? <div className="jc-card-hint">{data.hint}</div> : null}
      {figures ? <NodeKpi figures={figures} forecast={kpi.forecast} /> : (
        <div className="jc-card-foot">
          <Face emotion={data.emotion} />
          {data.pains > 0 ? <span className="jc-badge jc-pain" title="pain points">! {data.pains}</span> : null}
          {data.opportunities > 0 ? <span className="jc-badge jc-opp" title="opportunities">+ {data.opportunities}</span> : null}
        </div>
      )}
      {exporting && data.pain_texts && data.pain_texts.length ? (
        <ul className="jc-card-pains">{data.pain_texts.map((text, i) => <li key={i}>{text}</li>)}</ul>
      ) : null}
      {data.problem ? <div className="jc-problem" role="alert">{data.problem}</div> : null}
      <Handle type="source" position={Position.Bottom} id="bottom" />
      <Handle type="source" position={Position.Right} id="right" />
    </div>
  );
});

function StageKpi({ stageId, figures, forecast }) {
  return (
    <div className={forecast ? "jc-kpi-stage jc-kpi-forecast" : "jc-kpi-stage"} data-testid="stage-kpi"
      data-stage={stageId} data-forecast={forecast ? "true" : "false"}>
      {forecast ? <div className="jc-forecast-tag">FORECAST</div> : null}
      <div className="jc-kpi-stage-headline">{figures.headline}</div>
      <div className="jc-kpi-stage-counts">{figures.counts}</div>
      {figures.velocity ? <div className="jc-kpi-stage-velocity">{figures.velocity}</div> : null}
    </div>
  );
}

const LaneNode = memo(function LaneNode({ data }) {
  const kpi = useContext(KpiContext);
  const figures = kpi ? kpi.stages[data.id] : null;
  return (
    <div className={`jc-lane ${data.index % 2 ? "jc-lane-odd" : ""}`} style={{ height: data.height }}
      data-testid="stage-lane" data-stage={data.id}>
      {figures ? <StageKpi stageId={data.id} figures={figures} forecast={kpi.forecast} /> : null}
      <div className="jc-lane-head">
        <h3 className="jc-lane-name">{data.name}</h3>
        {data.goal ? <div className="jc-lane-goal">{data.goal}</div> : null}
      </div>
      {data.cards === 0 ? <div className="jc-lane-empty">Drag a card from the palette into this stage</div> : null}
    </div>
  );
});

const CurveNode = memo(function CurveNode({ data }) {
  const { lanes, width } = data;
  const top = 34;
  const plot = CURVE_HEIGHT - top - 16;
  const yOf = (emotion) => top + ((2 - emotion) / 4) * plot;
  const points = lanes
    .map((lane, index) => ({ x: index * LANE_WIDTH + LANE_WIDTH / 2, lane }))
    .filter((p) => p.lane.emotion !== null && p.lane.emotion !== undefined);
  let path = "";
  points.forEach((p, i) => {
    const y = yOf(p.lane.emotion);
    if (i === 0) {
      path = `M ${p.x} ${y}`;
    } else {
      const prev = points[i - 1];
      const mid = (prev.x + p.x) / 2;
      path += ` C ${mid} ${yOf(prev.lane.emotion)} ${mid} ${y} ${p.x} ${y}`;
    }
  });
  return (
    <div className="jc-curve" style={{ width, height: CURVE_HEIGHT }}>
      <div className="jc-curve-title">Emotion across the journey</div>
      <svg width={width} height={CURVE_HEIGHT} className="jc-curve-svg">
        {[2, 0, -2].map((level) => (
          <g key={level}>
            <line x1={0} x2={width} y1={yOf(level)} y2={yOf(level)} className={level === 0 ? "jc-curve-mid" : "jc-curve-grid"} />
            <text x={width - 6} y={yOf(level) - 3} textAnchor="end" className="jc-curve-axis">
              {level === 2 ? "delighted" : level === 0 ? "neutral" : "frustrated"}
            </text>
          </g>
        ))}
        {path ? <path d={path} className="jc-curve-line" /> : null}
        {points.map((p) => (
          <g key={p.lane.id}>
            <circle cx={p.x} cy={yOf(p.lane.emotion)} r={7} fill={emotionColour(p.lane.emotion)} stroke="#fff" strokeWidth="2" />
            <text x={p.x} y={yOf(p.lane.emotion) - 12} textAnchor="middle" className="jc-curve-value">
              {p.lane.emotion > 0 ? "+" : ""}{p.lane.emotion.toFixed(1)}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
});

const NODE_TYPES = { card: CardNode, lane: LaneNode, curve: CurveNode };

// In the overview the lanes' own headers are too small to read, so the stage names are drawn at a
// readable size along the top of the pane, each over its lane and moving with it.
function StageStrip({ lanes }) {
  const overview = useStore(overviewSelector);
  const [tx, , zoom] = useStore((state) => state.transform, (a, b) => a[0] === b[0] && a[2] === b[2]);
  if (!overview || !lanes.length) return null;
  return (
    <div className="jc-stage-strip" data-testid="stage-strip" aria-hidden="true">
      {lanes.map((lane, index) => (
        <div key={lane.id} className="jc-stage-strip-name" title={lane.name}
          style={{ left: tx + (index * LANE_WIDTH + LANE_INSET) * zoom, width: (LANE_WIDTH - 2 * LANE_INSET) * zoom }}>
          {lane.name}
        </div>
      ))}
    </div>
  );
}

// Stable, so the minimap does not redraw every node at each mouse move of a drag.
function miniMapColour(node) {
  return node.type === "card" ? KIND_COLOURS[node.data.kind] || "#94a3b8" : "rgba(226,232,240,0.6)";
}

function sameCard(a, b) {
  for (const key in a) if (a[key] !== b[key]) return false;
  return true;
}

// An edge customers took, while the overlay is on: drawn like the others (smooth steps), its
// share as an HTML label. On a vertical edge between stacked cards the label sits beside the
// line, so it covers neither the line nor the arrow in the short gap.
const KpiEdge = memo(function KpiEdge(props) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, style, data } = props;
  const [path, labelX, labelY] = getSmoothStepPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const beside = Math.abs(sourceX - targetX) < 1;
  const place = beside ? "translate(7px, -50%)" : "translate(-50%, -50%)";
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} />
      <EdgeLabelRenderer>
        <div className={`jc-edge-kpi-label nodrag nopan${beside ? " jc-edge-kpi-label-beside" : ""}`}
          style={{ transform: `${place} translate(${labelX}px, ${labelY}px)` }}
          data-testid="edge-kpi" data-edge={id} title={`${data.customers.toLocaleString("en-US")} customers`}>
          {data.branch ? <span className="jc-edge-kpi-branch">{data.branch} · </span> : null}
          <span className="jc-edge-kpi-share">{data.share}</span>
        </div>
      </EdgeLabelRenderer>
    </>
  );
});

const EDGE_TYPES = { kpi: KpiEdge };

function laneHeight(cards) {
  const bottom = cards.reduce((max, card) => Math.max(max, card.y), 0);
  return Math.max(640, bottom + 200);
}

// ``previous`` are the nodes drawn now: a card unchanged in data and position keeps its node (and with it
// React Flow's measurements and the memoised card), so a drop or an edit redraws only what changed.
function buildNodes(cards, lanes, selected, previous) {
  const height = laneHeight(cards);
  const before = new Map(previous.map((node) => [node.id, node]));
  const background = lanes.map((lane, index) => ({
    id: `lane:${lane.id}`,
    type: "lane",
    position: { x: index * LANE_WIDTH + LANE_INSET, y: 0 },
    data: { ...lane, index, height },
    draggable: false,
    selectable: false,
    connectable: false,
    focusable: false,
    deletable: false,
    zIndex: -10,
    style: { width: LANE_WIDTH - 2 * LANE_INSET },
  }));
  const curve = lanes.length
    ? [{
        id: "emotion-curve",
        type: "curve",
        position: { x: 0, y: height + 24 },
        data: { lanes, width: lanes.length * LANE_WIDTH },
        draggable: false,
        selectable: false,
        connectable: false,
        focusable: false,
        deletable: false,
        zIndex: -10,
      }]
    : [];
  const front = cards.map((card) => {
    const old = before.get(card.id);
    if (old && old.type === "card" && old.position.x === card.x && old.position.y === card.y && sameCard(card, old.data)) {
      return old;
    }
    return {
      id: card.id,
      type: "card",
      position: { x: card.x, y: card.y },
      data: card,
      selected: selected.has(card.id),
      style: { width: CARD_WIDTH },
    };
  });
  return [...background, ...curve, ...front];
}

function buildEdges(edges, selected) {
  return edges.map((edge) => ({
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.source_handle,
    targetHandle: edge.target_handle,
    label: edge.label || undefined,
    type: "smoothstep",
    className: edge.problem ? "jc-edge-problem" : undefined,
    selected: selected.has(edge.id),
    labelBgPadding: [6, 3],
    labelBgBorderRadius: 6,
    markerEnd: { type: "arrowclosed", width: 16, height: 16 },
  }));
}

// The overlay drawn onto an edge: its share as the label, its thickness by share; a path nobody
// took fades. The edge itself (ids, ends, selection) is left as it is.
function withKpi(edge, figures) {
  if (!figures) {
    return { ...edge, className: `${edge.className || ""} jc-edge-idle`,
      markerEnd: { ...edge.markerEnd, color: IDLE_STROKE } };
  }
  // Sized in pixels rather than by stroke width, or a thick edge would end in a huge arrow.
  const arrow = 9 + figures.width;
  return {
    ...edge,
    type: "kpi",
    label: undefined,
    data: { branch: edge.label, share: figures.label, customers: figures.customers },
    className: `${edge.className || ""} jc-edge-kpi`,
    style: { ...edge.style, strokeWidth: figures.width },
    markerEnd: { ...edge.markerEnd, color: KPI_STROKE, markerUnits: "userSpaceOnUse", width: arrow, height: arrow },
    ariaLabel: `${figures.label} of customers took this path`,
  };
}

function isTyping(event) {
  const el = event.target;
  return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

function snap(value) {
  return Math.round(value / GRID) * GRID;
}

function downloadPng(flow, name) {
  const cards = flow.getNodes();
  const bounds = getNodesBounds(cards);
  const width = Math.min(4000, Math.max(800, bounds.width + 80));
  const height = Math.min(4000, Math.max(600, bounds.height + 80));
  const viewport = getViewportForBounds(bounds, width, height, 0.2, 2, 0.04);
  const element = document.querySelector(".jc-canvas .react-flow__viewport");
  return toPng(element, {
    backgroundColor: "#f8fafc",
    width,
    height,
    style: { width: `${width}px`, height: `${height}px`,
      transform: `translate(${viewport.x}px, ${viewport.y}px) scale(${viewport.zoom})` },
  }).then((url) => {
    const link = document.createElement("a");
    link.setAttribute("download", `${name || "journey"}.png`);
    link.setAttribute("href", url);
    link.click();
  });
}

const MINIMAP_STYLE = { width: 160, height: 110 };

function Flow(props) {
  const { cards, edges: edgeViews, lanes, focus, fileName, kpi } = props;
  const [exporting, setExporting] = useState(false);
  const readOnly = !!props.readOnly;
  const flow = useReactFlow();
  const selectedRef = useRef(new Set());
  const sentSelectionRef = useRef("");
  const draggingRef = useRef(false);
  const selectionTimer = useRef(null);
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState([]);

  useEffect(() => {
    setNodes((current) => buildNodes(cards || [], lanes || [], selectedRef.current, current));
  }, [cards, lanes, setNodes]);

  useEffect(() => {
    setEdges(buildEdges(edgeViews || [], selectedRef.current));
  }, [edgeViews, setEdges]);

  const shownEdges = useMemo(
    // A forecast counts no paths: its edges are drawn as on the plain map, not faded as untaken.
    () => (kpi && !kpi.forecast ? edges.map((edge) => withKpi(edge, kpi.edges[edge.id])) : edges),
    [edges, kpi],
  );

  // Fitting to the lanes' known geometry rather than to measured nodes: with off-screen cards not
  // rendered, React Flow cannot measure them until they are in view.
  const paneWidth = useStore((state) => state.width);
  const paneHeight = useStore((state) => state.height);
  const paneSize = useRef({ width: 0, height: 0 });
  paneSize.current = { width: paneWidth, height: paneHeight };
  // The whole map in the pane, clear of the zoom controls and the minimap (see FIT_*_PX).
  const fitMap = useCallback((duration) => {
    const all = cards || [];
    const width = Math.max(1, (lanes || []).length) * LANE_WIDTH;
    const height = laneHeight(all) + ((lanes || []).length ? CURVE_HEIGHT + 24 : 0) + (kpi ? STAGE_KPI_ROOM : 0);
    const { width: paneW, height: paneH } = paneSize.current;
    if (!(paneW > 0 && paneH > 0)) return;
    const rooms = [
      { left: FIT_LEFT_PX, w: paneW - FIT_LEFT_PX - FIT_RIGHT_PX, h: paneH - 2 * FIT_MARGIN_PX },
      { left: FIT_MARGIN_PX, w: paneW - 2 * FIT_MARGIN_PX, h: paneH - FIT_MARGIN_PX - FIT_BOTTOM_PX },
    ].map((room) => ({ ...room, zoom: Math.min(Math.max(40, room.w) / width, Math.max(40, room.h) / height) }));
    const room = rooms[0].zoom >= rooms[1].zoom ? rooms[0] : rooms[1];
    const zoom = Math.min(2, Math.max(MIN_ZOOM, room.zoom));
    const x = room.left + (Math.max(40, room.w) - width * zoom) / 2;
    const y = FIT_MARGIN_PX + (kpi ? STAGE_KPI_ROOM : 0) * zoom;
    flow.setViewport({ x, y, zoom }, { duration });
  }, [cards, lanes, flow, !!kpi]);

  // Until the designer pans or zooms, the map follows the pane's size (the page may still be
  // laying out when the first cards arrive).
  const userMoved = useRef(false);
  const onMoveStart = useCallback((event) => {
    if (event) userMoved.current = true;
  }, []);
  useEffect(() => {
    if (!userMoved.current && (cards || []).length && paneWidth > 0 && paneHeight > 0) fitMap(0);
  }, [(cards || []).length > 0, paneWidth, paneHeight, !!kpi]);

  // A stage just added (the last lane) is brought into view if it is not: it would otherwise be drawn
  // off to the right, under the inspector.
  const laneCount = useRef((lanes || []).length);
  useEffect(() => {
    const count = (lanes || []).length;
    const added = count > laneCount.current && laneCount.current > 0;
    laneCount.current = count;
    if (!added) return;
    const { x, zoom } = flow.getViewport();
    const right = x + count * LANE_WIDTH * zoom;
    if (right > paneSize.current.width - FIT_RIGHT_PX) fitMap(300);
  }, [(lanes || []).length]);

  // A PNG shows every card in full: the cards are redrawn without the overview and without leaving out
  // those off-screen, the image is taken, and the canvas goes back as it was.
  const exportPng = useCallback(() => {
    setExporting(true);
    // Two frames to draw the full cards, a moment for React Flow to measure them and move the edges.
    const drawn = () => new Promise((resolve) => {
      requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 80)));
    });
    return drawn()
      .then(() => downloadPng(flow, fileName))
      .finally(() => setExporting(false));
  }, [flow, fileName]);

  // While a button is held (a drag may be starting) the selection waits, so a drag costs no event
  // before the drop.
  const pointerDown = useRef(false);
  useEffect(() => {
    const down = () => { pointerDown.current = true; };
    const up = () => { pointerDown.current = false; };
    document.addEventListener("pointerdown", down, true);
    document.addEventListener("pointerup", up, true);
    return () => {
      document.removeEventListener("pointerdown", down, true);
      document.removeEventListener("pointerup", up, true);
    };
  }, []);

  const commitSelection = useCallback(() => {
    if (pointerDown.current || draggingRef.current) {
      selectionTimer.current = setTimeout(commitSelection, 150);
      return;
    }
    const ids = [...selectedRef.current].sort();
    const key = ids.join(",");
    if (key !== sentSelectionRef.current) {
      sentSelectionRef.current = key;
      props.onSelect && props.onSelect(ids);
    }
  }, [props.onSelect]);

  // Selection is told to the server a moment after it settles, and never in the middle of a drag,
  // so rubber-band selecting or grabbing a card costs at most one event.
  const onSelectionChange = useCallback(({ nodes: picked, edges: pickedEdges }) => {
    selectedRef.current = new Set([...picked.map((n) => n.id), ...pickedEdges.map((e) => e.id)]);
    clearTimeout(selectionTimer.current);
    if (!draggingRef.current) selectionTimer.current = setTimeout(commitSelection, 150);
  }, [commitSelection]);

  // The server picks the selection after a drop, a paste or a click in the problem list.
  useEffect(() => {
    if (!focus || !focus.nonce) return;
    const ids = new Set(focus.ids || []);
    selectedRef.current = ids;
    sentSelectionRef.current = [...ids].sort().join(",");
    setNodes((current) => current.map((n) => ({ ...n, selected: ids.has(n.id) })));
    setEdges((current) => current.map((e) => ({ ...e, selected: false })));
    const node = focus.center && (cards || []).find((card) => ids.has(card.id));
    if (node) flow.setCenter(node.x + CARD_WIDTH / 2, node.y + 50, { zoom: Math.max(flow.getZoom(), 0.9), duration: 300 });
  }, [focus && focus.nonce]);

  const onNodeDragStart = useCallback(() => {
    draggingRef.current = true;
    clearTimeout(selectionTimer.current);
  }, []);

  const onNodeDragStop = useCallback((event, node, dragged) => {
    draggingRef.current = false;
    const moved = (dragged && dragged.length ? dragged : [node])
      .filter((n) => n.type === "card")
      .map((n) => ({ id: n.id, x: n.position.x, y: n.position.y }));
    if (moved.length && props.onMove) props.onMove(moved);
    selectionTimer.current = setTimeout(commitSelection, 150);
  }, [props.onMove, commitSelection]);

  const onConnect = useCallback((connection) => {
    props.onConnect && props.onConnect({ source: connection.source, target: connection.target });
  }, [props.onConnect]);

  const isValidConnection = useCallback((connection) => connection.source !== connection.target, []);

  const onDelete = useCallback(({ nodes: goneNodes, edges: goneEdges }) => {
    const ids = [...goneNodes.filter((n) => n.type === "card").map((n) => n.id), ...goneEdges.map((e) => e.id)];
    if (ids.length && props.onDelete) props.onDelete(ids);
  }, [props.onDelete]);

  const onDragOver = useCallback((event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback((event) => {
    const kind = event.dataTransfer.getData(KIND_MIME);
    if (!kind || readOnly) return;
    event.preventDefault();
    const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    props.onDropKind && props.onDropKind({ kind, x: snap(point.x - CARD_WIDTH / 2), y: snap(point.y - 30) });
  }, [flow, props.onDropKind, readOnly]);

  useEffect(() => {
    const onKey = (event) => {
      if (isTyping(event) || !(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (readOnly && key !== "a") return;
      if (key === "z" && !event.shiftKey) {
        event.preventDefault();
        props.onUndo && props.onUndo();
      } else if ((key === "z" && event.shiftKey) || key === "y") {
        event.preventDefault();
        props.onRedo && props.onRedo();
      } else if (key === "c") {
        const ids = [...selectedRef.current].filter((id) => (cards || []).some((c) => c.id === id));
        if (ids.length && props.onCopy) props.onCopy(ids);
      } else if (key === "v") {
        event.preventDefault();
        props.onPaste && props.onPaste();
      } else if (key === "a") {
        event.preventDefault();
        setNodes((current) => current.map((n) => ({ ...n, selected: n.type === "card" })));
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [props.onUndo, props.onRedo, props.onCopy, props.onPaste, cards, setNodes, readOnly]);

  return (
    <KpiContext.Provider value={kpi}>
    <ExportContext.Provider value={exporting}>
    <ReactFlow
      className={exporting ? "jc-exporting" : undefined}
      nodes={nodes}
      edges={shownEdges}
      nodeTypes={NODE_TYPES}
      edgeTypes={EDGE_TYPES}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onNodeDragStart={onNodeDragStart}
      onNodeDragStop={onNodeDragStop}
      onSelectionChange={onSelectionChange}
      onMoveStart={onMoveStart}
      onConnect={onConnect}
      isValidConnection={isValidConnection}
      onDelete={onDelete}
      nodesDraggable={!readOnly}
      nodesConnectable={!readOnly}
      edgesReconnectable={false}
      onDragOver={onDragOver}
      onDrop={onDrop}
      snapToGrid
      snapGrid={[GRID, GRID]}
      minZoom={MIN_ZOOM}
      maxZoom={2}
      deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
      multiSelectionKeyCode={["Shift", "Meta", "Control"]}
      selectionKeyCode="Shift"
      onlyRenderVisibleElements={!exporting}
      proOptions={{ hideAttribution: true }}
      defaultEdgeOptions={{ type: "smoothstep" }}
    >
      <Background gap={GRID} size={1} color="#dbe2ea" />
      <Controls position="bottom-left" showInteractive={false} showFitView={false}>
        <ControlButton onClick={() => fitMap(300)} title="Fit the whole map" aria-label="Fit view" id="jc-fit">
          <Icon name="fit" size={14} />
        </ControlButton>
        {readOnly ? null : (
          <ControlButton onClick={() => props.onTidy && props.onTidy()} title="Tidy up: line each lane up" aria-label="Tidy up" id="jc-tidy">
            <Icon name="tidy" size={14} />
          </ControlButton>
        )}
        <ControlButton onClick={exportPng} title="Export as PNG image" aria-label="Export PNG" id="jc-export-png">
          <Icon name="image" size={14} />
        </ControlButton>
      </Controls>
      <MiniMap
        pannable
        zoomable
        position="bottom-right"
        nodeColor={miniMapColour}
        maskColor="rgba(241,245,249,0.7)"
        style={MINIMAP_STYLE}
      />
      <StageStrip lanes={lanes || []} />
    </ReactFlow>
    </ExportContext.Provider>
    </KpiContext.Provider>
  );
}

function secondsAgo(seconds) {
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  return `${Math.floor(seconds / 60)} min ago`;
}

// One line under the toolbar while the overlay is on: the window, the goal, how to read the
// edges, and how fresh the figures are (counted from when they arrived, so clocks need not agree).
function KpiLegend({ kpi }) {
  const [arrived, setArrived] = useState(() => Date.now());
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => { setArrived(Date.now()); setNow(Date.now()); }, [kpi.stamp]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const waiting = !kpi.stamp;
  return (
    <div className={kpi.forecast ? "jc-kpi-legend jc-forecast-legend" : "jc-kpi-legend"} data-testid="kpi-legend"
      data-forecast={kpi.forecast ? "true" : "false"} role="status">
      <span className="jc-kpi-legend-window">{kpi.legend}</span>
      {kpi.goal ? <span>{kpi.goal}</span> : null}
      {kpi.note ? <span className="jc-kpi-legend-note">{kpi.note}</span> : null}
      {kpi.note || kpi.forecast ? null : (
        <span className="jc-kpi-legend-key">
          <svg width="34" height="10" aria-hidden="true"><line x1="1" y1="5" x2="33" y2="5" stroke={KPI_STROKE} strokeWidth="5" strokeLinecap="round" /></svg>
          line width: share of customers who took the path
        </span>
      )}
      <span className="jc-kpi-legend-age" data-testid="kpi-refreshed">
        {waiting ? (kpi.forecast ? "replaying…" : "loading…")
          : `${kpi.forecast ? "made" : "refreshed"} ${secondsAgo(Math.max(0, Math.round((now - arrived) / 1000)))}`}
      </span>
    </div>
  );
}

const EMPTY_DRAWING = { cards: [], edges: [], lanes: [] };

export function JourneyCanvas(props) {
  const drawing = useMemo(() => (props.drawing ? JSON.parse(props.drawing) : EMPTY_DRAWING), [props.drawing]);
  const kpi = props.overlay && props.overlay.on ? props.overlay : null;
  const readOnly = !!props.readOnly;
  // The latest handler is read at each tick, so a re-render never restarts the timer.
  const refresh = useRef(props.onRefreshOverlay);
  refresh.current = props.onRefreshOverlay;
  useEffect(() => {
    if (!kpi) return undefined;
    const timer = setInterval(() => {
      if (!document.hidden && refresh.current) refresh.current();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [!!kpi]);
  const classes = ["jc-canvas"];
  if (readOnly) classes.push("jc-readonly");
  if (kpi) classes.push("jc-kpi-on");
  if (kpi && kpi.forecast) classes.push("jc-forecast-on");
  return (
    <div className={classes.join(" ")} style={{ width: "100%", height: "100%", display: "flex", flexDirection: "column" }}
      data-cards={drawing.cards.length} data-edges={drawing.edges.length}
      data-read-only={readOnly ? "true" : "false"} data-kpi={kpi ? "on" : "off"}
      data-forecast={kpi && kpi.forecast ? "on" : "off"}>
      {kpi ? <KpiLegend kpi={kpi} /> : null}
      <div style={{ flex: 1, minHeight: 0, position: "relative" }}>
        <ReactFlowProvider>
          <Flow {...props} cards={drawing.cards} edges={drawing.edges} lanes={drawing.lanes} kpi={kpi} />
        </ReactFlowProvider>
      </div>
    </div>
  );
}

export function JourneyPalette({ items }) {
  return (
    <div className="jc-palette">
      {(items || []).map((item) => (
        <div
          key={item.kind}
          className="jc-palette-item"
          draggable
          data-kind={item.kind}
          title={item.hint}
          style={{ "--accent": KIND_COLOURS[item.kind] }}
          onDragStart={(event) => {
            event.dataTransfer.setData(KIND_MIME, item.kind);
            event.dataTransfer.effectAllowed = "copy";
          }}
        >
          <span className="jc-palette-icon"><Icon name={item.kind} size={16} color={KIND_COLOURS[item.kind]} /></span>
          <span className="jc-palette-text">
            <span className="jc-palette-label">{item.label}</span>
            <span className="jc-palette-hint">{item.hint}</span>
          </span>
        </div>
      ))}
    </div>
  );
}
