// What every scenario hands back: figures with their targets, and the raw details for the JSON file.
import type { Delivery } from '../../src/live/subscription.js';

export interface Figure {
  scenario: string;
  name: string;
  value: number | null;
  unit: string;
  /** Human text of the target, e.g. ">= 0.5"; empty when the figure is for information. */
  target: string;
  /** null: no target, or not measurable in this run. */
  pass: boolean | null;
  note?: string;
}

export interface ScenarioResult {
  scenario: string;
  figures: Figure[];
  details: unknown;
}

export interface RunOptions {
  quick: boolean;
  /** Fan-out: how many subscribers, in the order run. */
  subscribers?: number[];
  /** Fan-out: which subscriptions, in the order run (see bench/lib/subscribers.ts). */
  deliveries?: Delivery[];
  log: (line: string) => void;
}

export function figure(scenario: string, name: string, value: number | null, unit: string, target = '', pass: boolean | null = null, note?: string): Figure {
  return { scenario, name, value, unit, target, pass, ...(note ? { note } : {}) };
}
