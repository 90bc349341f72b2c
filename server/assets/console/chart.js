// A small rows/s line chart on a canvas: the last SAMPLES_MAX one-second samples, newest on
// the right, scaled to the window's peak. Until a minute has been sampled the window is
// what there is (at least WINDOW_MIN_S), so a new chart is not a sliver at the right edge. The numbers it draws are also on the element
// (data-rate, data-peak, aria-label) so people with screen readers and tests read the same.

/** One minute of history at one sample per second. */
export const SAMPLES_MAX = 60;
/** The shortest time window a chart shows. */
const WINDOW_MIN_S = 10;

const LINE = '#1d4ed8';
const FILL = 'rgba(29, 78, 216, 0.14)';
const GRID = '#e5e9ee';
const TEXT = '#6b7785';

export class RateChart {
  /** `axes` draws the peak and time labels (the big chart); sparklines skip them. */
  constructor({ width, height, axes = false }) {
    this.width = width;
    this.height = height;
    this.axes = axes;
    this.samples = [];
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'rate-chart';
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.ctx = this.canvas.getContext('2d');
    this.ctx.scale(ratio, ratio);
    this.canvas.setAttribute('role', 'img');
    this.update();
  }

  /** Adds one sample (rows/s over the last second). */
  push(rate) {
    this.samples.push(rate);
    if (this.samples.length > SAMPLES_MAX) this.samples.shift();
    this.update();
  }

  /** Replaces the history, for a chart re-created over a running sampler. */
  setSamples(samples) {
    this.samples = samples.slice(-SAMPLES_MAX);
    this.update();
  }

  get rate() {
    return this.samples.length ? this.samples[this.samples.length - 1] : 0;
  }

  update() {
    const peak = this.samples.reduce((a, b) => Math.max(a, b), 0);
    // Samples are one second apart, so their sum is the rows seen in the window.
    const total = this.samples.reduce((a, b) => a + b, 0);
    this.canvas.dataset.rate = String(this.rate);
    this.canvas.dataset.peak = String(peak);
    this.canvas.dataset.total = String(total);
    this.canvas.setAttribute('aria-label',
      `${formatRate(this.rate)} rows/s, peak ${formatRate(peak)}, ${formatRate(total)} rows in the last ${SAMPLES_MAX} s`);
    this.draw(peak);
  }

  draw(peak) {
    const { ctx, width, height } = this;
    const left = this.axes ? 44 : 1;
    const bottom = this.axes ? height - 16 : height - 1;
    const top = this.axes ? 8 : 3;
    const span = Math.min(SAMPLES_MAX, Math.max(WINDOW_MIN_S, this.samples.length));
    ctx.clearRect(0, 0, width, height);
    const scale = niceCeiling(peak);
    if (this.axes) {
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      ctx.fillStyle = TEXT;
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      for (const fraction of [0, 0.5, 1]) {
        const y = Math.round(bottom - (bottom - top) * fraction) + 0.5;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(width, y);
        ctx.stroke();
        ctx.fillText(formatRate(scale * fraction), left - 6, y);
      }
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      ctx.fillText(`-${span}s`, left, height - 3);
      ctx.textAlign = 'right';
      ctx.fillText('now', width, height - 3);
    } else {
      ctx.strokeStyle = GRID;
      ctx.beginPath();
      ctx.moveTo(0, bottom + 0.5);
      ctx.lineTo(width, bottom + 0.5);
      ctx.stroke();
    }
    if (this.samples.length === 0) return;
    const step = (width - left) / (span - 1);
    const x0 = width - (this.samples.length - 1) * step;
    const y = (v) => bottom - (bottom - top) * (v / scale);
    ctx.beginPath();
    this.samples.forEach((v, i) => (i === 0 ? ctx.moveTo(x0, y(v)) : ctx.lineTo(x0 + i * step, y(v))));
    ctx.strokeStyle = LINE;
    ctx.lineWidth = 1.6;
    ctx.stroke();
    ctx.lineTo(width, bottom);
    ctx.lineTo(x0, bottom);
    ctx.closePath();
    ctx.fillStyle = FILL;
    ctx.fill();
  }
}

/** 1, 2 or 5 times a power of ten, at least `v` (and at least 1, so idle is flat at 0). */
function niceCeiling(v) {
  if (v <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * power >= v) return m * power;
  return 10 * power;
}

/** 0.5, 950, 1.2k, 3.4M */
export function formatRate(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  if (v > 0 && v < 10 && !Number.isInteger(v)) return v.toFixed(1);
  return String(Math.round(v));
}
