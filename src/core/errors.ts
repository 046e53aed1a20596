// Expected failures are typed errors raised by services; src/http/error-handler.ts is the one place that
// turns them into a status and the contract's `{"errors": {...}}` body.

export type FieldErrors = Record<string, string[]>;

export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract body(): Record<string, unknown>;
  /** Extra response headers (WWW-Authenticate, Retry-After…). */
  headers(): Record<string, string> {
    return {};
  }
}

abstract class DetailError extends AppError {
  constructor(readonly detail: string) {
    super(detail);
  }
  body() {
    return { errors: { detail: this.detail } };
  }
}

export class BadRequest extends DetailError {
  readonly status = 400;
}

export class Unauthorized extends DetailError {
  readonly status = 401;
  constructor() {
    super("Unauthorized");
  }
  override headers() {
    return { "www-authenticate": "Bearer" };
  }
}

export class Forbidden extends DetailError {
  readonly status = 403;
  constructor() {
    super("Forbidden");
  }
}

export class NotFound extends DetailError {
  readonly status = 404;
  constructor() {
    super("Not Found");
  }
}

export class TooManyRequests extends DetailError {
  readonly status = 429;
  constructor(
    detail: string,
    readonly retryAfterS: number,
  ) {
    super(detail);
  }
  override headers() {
    return { "retry-after": String(this.retryAfterS) };
  }
}

export class Upstream extends DetailError {
  readonly status = 502;
}

export class ServiceUnavailable extends DetailError {
  readonly status = 503;
  constructor(
    detail: string,
    readonly retryAfterS: number,
  ) {
    super(detail);
  }
  override headers() {
    return { "retry-after": String(this.retryAfterS) };
  }
}

/** 422: invalid field, duplicate key, invalid transition, action not allowed in this state. */
export class Invalid extends AppError {
  readonly status = 422;
  constructor(readonly fields: FieldErrors) {
    super(
      Object.entries(fields)
        .map(([k, v]) => `${k}: ${v.join(", ")}`)
        .join("; "),
    );
  }
  static field(field: string, message: string): Invalid {
    return new Invalid({ [field]: [message] });
  }
  body() {
    return { errors: this.fields };
  }
}

/** 403 from a policy decision: the contract's policy error carries the decision that blocked the action. */
export class PolicyBlocked extends AppError {
  readonly status = 403;
  constructor(
    readonly messages: string[],
    readonly decision: Record<string, unknown>,
  ) {
    super(messages.join("; "));
  }
  body() {
    return { errors: { policy: this.messages }, policy_decision: this.decision };
  }
}
