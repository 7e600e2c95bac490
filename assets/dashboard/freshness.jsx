// The dashboard's refresh timer and how fresh its figures are.
//
// The timer lives in the browser, as the map overlay's does (assets/canvas/journey_canvas.jsx): it
// stops by itself when the page is left or the tab closes, and skips its turn while the tab is hidden.
// The age is counted from when the figures arrived in this browser, so its clock need not agree with
// the server's; the server's time of the figures is shown beside it.
import React, { useEffect, useRef, useState } from "react";

function secondsAgo(seconds) {
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  return `${Math.floor(seconds / 60)} min ago`;
}

export function Freshness({ stamp, at, intervalMs, onRefresh }) {
  const [arrived, setArrived] = useState(() => Date.now());
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => { setArrived(Date.now()); setNow(Date.now()); }, [stamp]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  // The latest handler is read at each tick, so a re-render never restarts the timer.
  const refresh = useRef(onRefresh);
  refresh.current = onRefresh;
  useEffect(() => {
    const timer = setInterval(() => {
      if (!document.hidden && refresh.current) refresh.current();
    }, intervalMs || 10000);
    return () => clearInterval(timer);
  }, [intervalMs]);
  const text = stamp
    ? `Updated ${secondsAgo(Math.max(0, Math.round((now - arrived) / 1000)))} · figures of ${at}`
    : "Loading figures…";
  return (
    <span className="jb-freshness" data-testid="dashboard-freshness" data-stamp={stamp || 0} role="status">
      {text}
    </span>
  );
}
