/**
 * RFC 9457 problem details: every error answer is `application/problem+json`
 * `{ type, title, status, detail, errors? }` (CONTRACT §5).
 */

/** One bad input item: `index` for batch items, `field` a dotted path, `path` the same as segments. */
export interface FieldError {
  /** where the value was: body (default), query, params or header */
  in?: 'body' | 'query' | 'params' | 'header';
  /** batch position, for arrays of pings */
  index?: number;
  /** dotted path inside the item, e.g. `geometry.coordinates.0.3` ('' = the item itself) */
  field: string;
  /** the same path as segments */
  path: (string | number)[];
  /** machine code, e.g. `invalid_type`, `too_small`, `ring_not_closed` */
  code: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error that is already an HTTP answer. Throw it from a handler or hook. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(
    status: number,
    slug: string,
    detail: string,
    opts: { errors?: FieldError[]; title?: string; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.slug = slug;
    this.title = opts.title ?? TITLES[status] ?? 'Error';
    this.errors = opts.errors;
    this.extra = opts.extra;
    this.headers = opts.headers;
  }
  toBody(): ProblemBody {
    return problemBody(this.status, this.slug, this.message, this.errors, this.title, this.extra);
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function problemBody(
  status: number,
  slug: string,
  detail: string,
  errors?: FieldError[],
  title?: string,
  extra?: Record<string, unknown>,
): ProblemBody {
  const body: ProblemBody = {
    type: `urn:cordon:problem:${slug}`,
    title: title ?? TITLES[status] ?? 'Error',
    status,
    detail,
    ...extra,
  };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

/** 400 listing every bad field. */
export function validationProblem(errors: FieldError[], detail?: string): HttpProblem {
  const d =
    detail ??
    (errors.length === 1
      ? `Invalid input: ${describe(errors[0]!)}`
      : `Invalid input: ${errors.length} problems (see errors)`);
  return new HttpProblem(400, 'validation-error', d, { errors });
}

function describe(e: FieldError): string {
  const where = e.index !== undefined ? `item ${e.index}${e.field ? ` field ${e.field}` : ''}` : e.field ? `${e.field}` : e.in ?? 'body';
  return `${where}: ${e.message}`;
}

export const notFound = (what: string, id: string) => new HttpProblem(404, 'not-found', `${what} "${id}" does not exist`);
