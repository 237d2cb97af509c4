// The workspace's time chart (echarts, canvas): request rate and errors as bars, p50/p90/p99 as
// lines, throughput below. It always shows the whole extent; the workspace window is the shaded
// band. Dragging across it (brush) sets the window every view follows; Reset clears it.
// CSP: canvas rendering and a rich-text (canvas) tooltip, so no HTML is injected.

import { BarChart, LineChart } from 'echarts/charts';
import { BrushComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';
import type { TimeSeries, TimeWindow } from '../../../shared/views';
import { formatBytes, formatDuration, formatTimeOfDay } from '../format';

echarts.use([BarChart, LineChart, BrushComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent, CanvasRenderer]);

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function TimeChart(props: { series: TimeSeries; window: TimeWindow | null; onWindow: (window: TimeWindow) => void; themeKey: string }) {
  const { series, window: win, onWindow, themeKey } = props;
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.EChartsType | null>(null);
  const onWindowRef = useRef(onWindow);
  onWindowRef.current = onWindow;

  useEffect(() => {
    if (!el.current) return;
    const instance = echarts.init(el.current, undefined, { renderer: 'canvas' });
    chart.current = instance;
    instance.on('brushEnd', (params: unknown) => {
      const area = (params as { areas?: { coordRange?: unknown }[] }).areas?.[0];
      const range = area?.coordRange as [number, number] | [number, number][] | undefined;
      if (!range) return;
      const [from, to] = (Array.isArray(range[0]) ? range[0] : range) as [number, number];
      instance.dispatchAction({ type: 'brush', areas: [] });
      // The axis is in ms; the API in µs.
      onWindowRef.current({ from: Math.floor(from * 1000), to: Math.ceil(to * 1000) });
    });
    const resize = new ResizeObserver(() => instance.resize());
    resize.observe(el.current);
    return () => {
      resize.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const instance = chart.current;
    if (!instance) return;
    const fg = cssVar('--fg') || '#1b1e24';
    const muted = cssVar('--fg-muted') || '#5d6470';
    const border = cssVar('--border') || '#d9dce1';
    const accent = cssVar('--accent') || '#2457d6';
    const error = cssVar('--error') || '#b42318';
    const stepS = series.stepUs / 1_000_000;
    const t = (us: number) => us / 1000;
    const points = series.points;
    const band = win
      ? [[{ xAxis: t(win.from ?? series.window.from) }, { xAxis: t(win.to ?? series.window.to) }]]
      : [];
    const axisCommon = {
      axisLine: { lineStyle: { color: border } },
      axisLabel: { color: muted, fontSize: 10 },
      splitLine: { lineStyle: { color: border, opacity: 0.5 } },
    };
    instance.setOption(
      {
        animation: false,
        textStyle: { color: fg },
        legend: { top: 0, textStyle: { color: fg, fontSize: 11 }, itemWidth: 12, itemHeight: 8 },
        tooltip: {
          trigger: 'axis',
          renderMode: 'richText',
          backgroundColor: cssVar('--bg-raised') || '#fff',
          borderColor: border,
          textStyle: { color: fg, fontSize: 11 },
          valueFormatter: (v: unknown) => (typeof v === 'number' ? String(Number(v.toFixed(2))) : String(v ?? '—')),
        },
        grid: [
          { left: 48, right: 56, top: 26, height: 96 },
          { left: 48, right: 56, top: 142, height: 36 },
        ],
        xAxis: [
          { type: 'time', gridIndex: 0, min: t(series.window.from), max: t(series.window.to), ...axisCommon, axisLabel: { show: false } },
          {
            type: 'time',
            gridIndex: 1,
            min: t(series.window.from),
            max: t(series.window.to),
            ...axisCommon,
            axisLabel: { color: muted, fontSize: 10, formatter: (ms: number) => formatTimeOfDay(ms * 1000).slice(0, 8) },
          },
        ],
        yAxis: [
          { type: 'value', gridIndex: 0, name: 'req/s', nameTextStyle: { color: muted, fontSize: 10 }, ...axisCommon },
          {
            type: 'value',
            gridIndex: 0,
            name: 'latency',
            position: 'right',
            nameTextStyle: { color: muted, fontSize: 10 },
            ...axisCommon,
            splitLine: { show: false },
            axisLabel: { color: muted, fontSize: 10, formatter: (us: number) => formatDuration(us) },
          },
          { type: 'value', gridIndex: 1, ...axisCommon, splitNumber: 1, axisLabel: { color: muted, fontSize: 10, formatter: (b: number) => `${formatBytes(b)}/s` } },
        ],
        brush: { toolbox: [], xAxisIndex: 'all', brushType: 'lineX', brushMode: 'single', brushStyle: { color: 'rgba(120,140,200,0.25)', borderColor: accent } },
        series: [
          {
            name: 'Requests/s',
            type: 'bar',
            data: points.map((p) => [t(p.t), p.requests / stepS]),
            itemStyle: { color: accent, opacity: 0.55 },
            barGap: '-100%',
            barCategoryGap: '10%',
            markArea: { silent: true, itemStyle: { color: accent, opacity: 0.12 }, data: band },
          },
          { name: 'Errors/s', type: 'bar', data: points.map((p) => [t(p.t), (p.errors + p.timeouts) / stepS]), itemStyle: { color: error } },
          { name: 'p50', type: 'line', yAxisIndex: 1, showSymbol: false, connectNulls: false, data: points.map((p) => [t(p.t), p.p50]), lineStyle: { width: 1 }, itemStyle: { color: '#4caf7a' } },
          { name: 'p90', type: 'line', yAxisIndex: 1, showSymbol: false, data: points.map((p) => [t(p.t), p.p90]), lineStyle: { width: 1 }, itemStyle: { color: '#e59700' } },
          { name: 'p99', type: 'line', yAxisIndex: 1, showSymbol: false, data: points.map((p) => [t(p.t), p.p99]), lineStyle: { width: 1.5 }, itemStyle: { color: '#a066d8' } },
          {
            name: 'Throughput',
            type: 'line',
            xAxisIndex: 1,
            yAxisIndex: 2,
            showSymbol: false,
            areaStyle: { opacity: 0.2 },
            itemStyle: { color: '#f08c3c' },
            data: points.map((p) => [t(p.t), p.bytes / stepS]),
            lineStyle: { width: 1 },
          },
        ],
      },
      { notMerge: true },
    );
    // Dragging on the chart brushes a time range (no toolbox button to press first).
    instance.dispatchAction({ type: 'takeGlobalCursor', key: 'brush', brushOption: { brushType: 'lineX', brushMode: 'single' } });
  }, [series, win, themeKey]);

  return <div className="time-chart" ref={el} role="img" aria-label="Requests, errors, latency and throughput over time; drag across it to set the time window" data-testid="time-chart" />;
}
