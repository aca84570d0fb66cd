// Which of GitLab's two spellings of this API the upstream speaks, learnt from its answers unless pinned.
import { pathName, type Dialect, type ModelInfo } from '../models.js';
import type { DialectSetting } from '../config.js';
import { gatewayError } from '../errors.js';

export class DialectState {
  private current: Dialect;
  private confirmed: boolean;

  constructor(readonly setting: DialectSetting) {
    // Newer GitLab first: the plural dialect is where the API is heading.
    this.current = setting === 'auto' ? 'plural' : setting;
    this.confirmed = setting !== 'auto';
  }

  get dialect(): Dialect {
    return this.current;
  }

  /** Whether the dialect was pinned or seen in a successful answer. */
  get known(): boolean {
    return this.confirmed;
  }

  confirm(): void {
    this.confirmed = true;
  }

  /** After a "model_name does not have a valid value" answer: try the other dialect, unless pinned. */
  switchAfterRejectedName(used: Dialect, model: ModelInfo): boolean {
    const other: Dialect = used === 'plural' ? 'singular' : 'plural';
    // A model only one dialect knows says nothing about the dialect: an older plural GitLab may lack a newer model.
    if (this.setting !== 'auto' || pathName(model, other) === null) return false;
    if (this.current === used) {
      this.current = other;
      this.confirmed = false;
    }
    return true;
  }

  /** The path segment of a model in the dialect in use. */
  pathName(model: ModelInfo): string {
    const name = pathName(model, this.current);
    if (name === null) {
      throw gatewayError('BAD_USER_INPUT', `${model.enumName} is not available on this GitLab: it needs the newer (plural) Data management API, GitLab 18.8 or later.`);
    }
    return name;
  }
}
