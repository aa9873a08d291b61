/**
 * The pipeline DAG's `schedule`, checked at synth with the rules Airflow 3.3.2 applies on the VM, so a
 * schedule Airflow would reject (or one that never fires) stops `cdktf synth` instead of leaving a
 * DAG that silently fails to load where nobody is looking.
 *
 * What Airflow does with a string schedule (airflow/sdk/definitions/dag.py `_create_timetable`):
 * `@once` and `@continuous` are timetables of their own; any other string becomes a
 * CronTriggerTimetable, which maps Airflow's presets (`@hourly`, `@daily`, `@weekly`, `@monthly`,
 * `@quarterly`, `@yearly`, case-sensitive) to cron and validates the result with croniter 7.0.0
 * (`croniter(expression)`: no hash id, seconds as the 6th field, year as the 7th). The scheduler
 * then asks croniter for the previous and next fire times; a schedule with none (`0 0 31 2 *`)
 * loads, logs an exception and never runs.
 *
 * `checkAirflowSchedule` reproduces croniter 7.0.0's `_expand` (croniter.py 980-1334) step by step,
 * plus that "fires at all" condition. Two deliberate differences, both refusals of schedules
 * Airflow would load:
 *  - `R` (croniter's random value) draws a new value every time Airflow parses the DAG file (every
 *    30 s), so the schedule keeps moving: refused.
 *  - a 7th (year) field other than `*`: whether it fires depends on today's date (Airflow needs a
 *    past and a future fire time), so it stops working when its years pass: refused.
 * jobs/tests_dag/test_schedule_parity.py runs Airflow itself on the shared case table
 * (__tests__/config/schedule-cases.json) and on a generated sweep, and asserts the same verdicts.
 */

/** Schedules that are not cron expressions at all (`_create_timetable`). */
const SPECIAL_TIMETABLES = ["@once", "@continuous"];

/** Airflow's CRON_PRESETS (airflow/sdk/definitions/timetables/_cron.py), matched case-sensitively. */
export const AIRFLOW_CRON_PRESETS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@quarterly": "0 0 1 */3 *",
  "@yearly": "0 0 1 1 *",
};

/** croniter's own aliases, matched after lower-casing the whole expression. */
const CRONITER_ALIASES: Readonly<Record<string, string>> = {
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

const DAY = 2;
const MONTH = 3;
const DOW = 4;
const YEAR = 6;
const FIELD_NAMES = ["minute", "hour", "day of month", "month", "day of week", "second", "year"];
const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6], [0, 59], [1970, 2099]];
const LEN_MEANS_ALL = [60, 24, 31, 12, 7, 60, 130];
const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const WEEKDAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
/** ALPHACONV: names a field accepts in place of a number. */
const ALPHACONV: readonly Readonly<Record<string, number | string>>[] = [{}, {}, { l: "l" }, MONTHS, WEEKDAYS, {}, {}];
/** Days in each month, February in a leap year: croniter finds Feb 29 within its 50-year window. */
const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// croniter's regular expressions (re.ASCII: \d, \w and \s are ASCII only, as in JavaScript)
const STEP_SEARCH = /^([^-]+)-([^-/]+)(\/(\d+))?$/;
const ONLY_INT = /^\d+$/;
const STAR_OR_INT = /^(\d+|\*)$/;
const WEEKDAY_ALT = Object.keys(WEEKDAYS).join("|");
const MONTH_ALT = Object.keys(MONTHS).join("|");
const SPECIAL_DOW = new RegExp(
  `^(?<pre>((?<he>((${WEEKDAY_ALT})(-(${WEEKDAY_ALT}))?)|((${MONTH_ALT})(-(${MONTH_ALT}))?)|\\w+)#)|l)(?<last>\\d+)$`,
);
const NEAREST_WEEKDAY = /^(?:(\d+)w|w(\d+))$/;
const HASH_EXPRESSION = /^(?<type>h|r)(\((?<begin>\d+)-(?<end>\d+)\))?(\/(?<divisor>\d+))?$/;
/** Python's str.split()/\S+ with re.ASCII: fields are separated by ASCII whitespace only. */
const ASCII_WHITESPACE = /[ \t\n\r\f\v]+/;

class Invalid extends Error {}

type Value = number | string; // a number, "*" or "l"

/** croniter.value_alias for a 5/6/7-field expression: only day-of-week 7 becomes 0 (Sunday). */
function valueAlias(v: Value, field: number): Value {
  return field === DOW && v === 7 ? 0 : v;
}

function alphaconv(field: number, key: string): Value {
  const v = ALPHACONV[field][key];
  if (v === undefined) throw new Invalid(`${JSON.stringify(key)} is not a ${FIELD_NAMES[field]} value`);
  return v;
}

/** Python int() of an ASCII digit string (big values only need to compare as "too big"). */
function int(s: string): number {
  return Number(s);
}

interface Expanded {
  readonly fields: Value[][];
  readonly nearestWeekdays: Set<number>;
  /** An nth weekday (`fri#2`) or a last weekday (`L5`) in the day-of-week field. */
  readonly usesNthWeekday: boolean;
  readonly usesRandom: boolean;
}

/** croniter._expand(expr) with hash_id=None, second_at_beginning=False: throws Invalid or returns the fields. */
function expand(expression: string): Expanded {
  let efl = expression.toLowerCase();
  efl = CRONITER_ALIASES[efl] ?? efl;
  const expressions = efl.split(ASCII_WHITESPACE).filter((f) => f !== "");
  if (![5, 6, 7].includes(expressions.length)) {
    throw new Invalid(`has ${expressions.length} field(s); a cron expression has 5 (minute hour day-of-month month day-of-week), or 6-7 with seconds and year`);
  }
  const fields: Value[][] = [];
  const nearestWeekdays = new Set<number>();
  const nthWeekdays = new Map<Value, Set<Value>>();
  let usesRandom = false;

  expressions.forEach((raw, field) => {
    let expr = raw;
    const [lo, hi] = RANGES[field];
    const hash = HASH_EXPRESSION.exec(expr);
    if (hash) {
      const g = hash.groups!;
      if (g.type === "h") throw new Invalid(`${JSON.stringify(raw)}: H (hashed) values need a hash id, which Airflow never gives`);
      usesRandom = true;
      if (g.begin !== undefined) {
        if (int(g.begin) >= int(g.end)) throw new Invalid(`${JSON.stringify(raw)}: the range end must be greater than its begin`);
        for (const bound of [int(g.begin), int(g.end)]) {
          const v = valueAlias(bound, field) as number;
          if (v < lo || v > hi) throw new Invalid(`${JSON.stringify(raw)} is out of the ${FIELD_NAMES[field]} range ${lo}-${hi}`);
        }
      }
      if (g.divisor !== undefined && int(g.divisor) === 0) throw new Invalid(`${JSON.stringify(raw)}: a step of 0`);
      // the drawn value is always inside the field's range; any one stands for all of them
      expr = String(g.begin !== undefined ? int(g.begin) : lo);
    }
    if (expr.includes("?")) {
      if (expr !== "?") throw new Invalid(`${JSON.stringify(raw)}: '?' cannot be combined with other characters`);
      if (field !== DAY && field !== DOW) throw new Invalid(`${JSON.stringify(raw)}: '?' is only allowed in day-of-month or day-of-week`);
      expr = "*";
    }

    const eList: Value[] = expr.split(",");
    const res: Value[] = [];
    const seen = new Set<Value>();
    while (eList.length > 0) {
      let e = String(eList.pop());
      let nth: number | string | undefined;

      if (field === DOW) {
        const sd = SPECIAL_DOW.exec(e);
        if (sd) {
          const { he, last, pre } = sd.groups!;
          if (he) {
            e = he;
            nth = int(last);
            if (!(nth >= 1 && nth <= 5)) throw new Invalid(`${JSON.stringify(raw)}: the nth weekday must be 1 to 5, got ${last}`);
          } else if (last) {
            e = last;
            nth = pre; // "l": the last such weekday of the month
          }
        }
      }
      if (field === DAY) {
        const w = NEAREST_WEEKDAY.exec(e);
        if (w) {
          const wDay = int(w[1] ?? w[2]);
          if (wDay < 1 || wDay > 31) throw new Invalid(`${JSON.stringify(raw)}: nearest-weekday day ${wDay} is out of range 1-31`);
          if (eList.length > 0 || res.length > 0) throw new Invalid(`${JSON.stringify(raw)}: 'W' takes a single day, not a list`);
          nearestWeekdays.add(wDay);
          res.push(wDay);
          continue;
        }
      }

      // [^\n] is Python's "." (JavaScript's "." also stops at \r, U+2028 and U+2029)
      let t = e.replace(/^\*(\/[^\n]+)$/, `${lo}-${hi}$1`);
      let m = STEP_SEARCH.exec(t);
      let startWithStep = false;
      if (!m) {
        t = e.replace(/^([^\n]+)\/([^\n]+)$/, `$1-${hi}/$2`);
        m = STEP_SEARCH.exec(t);
        startWithStep = m !== null;
      }
      if (m) {
        let low: Value = m[1];
        let high: Value = m[2];
        if (field === DAY && high === "l") high = "31";
        if (!ONLY_INT.test(low)) low = String(alphaconv(field, low));
        if (!ONLY_INT.test(high)) high = String(alphaconv(field, high));
        const step = int(m[4] ?? "1");
        if (step === 0) throw new Invalid(`${JSON.stringify(raw)}: a step of 0`);
        for (const band of [low, high]) {
          if (!ONLY_INT.test(band)) throw new Invalid(`${JSON.stringify(raw)}: ${low}-${high} is not a range of numbers`);
        }
        let lowN = valueAlias(int(low), field) as number;
        let highN = valueAlias(int(high), field) as number;
        if (Math.max(lowN, highN) > Math.max(lo, hi)) throw new Invalid(`${JSON.stringify(raw)} is out of the ${FIELD_NAMES[field]} range ${lo}-${hi}`);
        const startAtFieldMax = startWithStep && lowN === highN;
        if (lowN === highN && !startWithStep) [lowN, highN] = [lo, hi];
        let rng: Value[] = [];
        if (startAtFieldMax) {
          rng = [lowN];
        } else if (lowN > highN) {
          const whole: number[] = [];
          for (let v = lo; v <= hi; v++) whole.push(v);
          for (let v = lowN; v <= hi; v += step) rng.push(v);
          let toSkip = 0;
          if (rng.length > 0) {
            const lastV = rng[rng.length - 1] as number;
            const alreadySkipped = [...whole].reverse().indexOf(lastV);
            const curpos = whole.indexOf(lastV);
            if (curpos + step > whole.length && alreadySkipped < step) toSkip = step - alreadySkipped;
          }
          for (let v = lo + toSkip; v <= highN; v += step) rng.push(v);
        } else {
          for (let v = lowN; v <= highN; v += step) rng.push(v);
        }
        if (field === DOW && nth !== undefined && nth !== "l") rng = rng.map((item) => `${item}#${nth}`);
        for (const a of rng) if (!seen.has(a)) eList.push(a);
        for (const a of rng) seen.add(a);
      } else {
        if (t.startsWith("-")) throw new Invalid(`${JSON.stringify(raw)}: negative numbers are not allowed`);
        let v: Value = t;
        if (!STAR_OR_INT.test(t)) v = alphaconv(field, t);
        if (typeof v === "string" && ONLY_INT.test(v)) v = int(v);
        v = valueAlias(v, field);
        if (v !== "*" && v !== "l" && ((v as number) < lo || (v as number) > hi)) {
          throw new Invalid(`${JSON.stringify(raw)} is out of the ${FIELD_NAMES[field]} range ${lo}-${hi}`);
        }
        res.push(v);
        if (field === DOW && nth !== undefined) {
          if (!nthWeekdays.has(v)) nthWeekdays.set(v, new Set());
          nthWeekdays.get(v)!.add(nth);
        }
      }
    }

    let values = [...new Set(res)];
    if (values.length === LEN_MEANS_ALL[field]) {
      const keepList = (field === DAY && !expressions[DOW].includes("*")) || (field === DOW && !expressions[DAY].includes("*"));
      if (!keepList) values = ["*"];
    }
    fields.push(values.length === 1 && values[0] === "*" ? ["*"] : values);
  });

  if (nthWeekdays.size > 0) {
    const dowSet = new Set(fields[DOW]);
    const literal = [...dowSet].filter((v) => !nthWeekdays.has(v) && v !== "*");
    if (literal.length > 0 && dowSet.size !== LEN_MEANS_ALL[DOW]) {
      throw new Invalid("day-of-week cannot mix plain weekdays with nth-weekday (#) or last-weekday (L) values");
    }
  }
  return { fields, nearestWeekdays, usesNthWeekday: nthWeekdays.size > 0, usesRandom };
}

/** Whether a day-of-month/month combination can ever match (croniter ORs the two day fields). */
function fires(e: Expanded): boolean {
  const [days, months, dows] = [e.fields[DAY], e.fields[MONTH], e.fields[DOW]];
  if (dows.length !== 1 || dows[0] !== "*") return true; // every weekday (and nth/last) occurs within the window
  if (days[0] === "*" || days.includes("l") || days.some((d) => e.nearestWeekdays.has(d as number))) return true;
  const monthList = months[0] === "*" ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] : (months as number[]);
  return days.some((d) => monthList.some((m) => (d as number) <= MAX_DAYS[m]));
}

/**
 * What is wrong with an Airflow 3.3.2 DAG schedule string, or undefined if Airflow loads it and it
 * fires.
 */
export function airflowScheduleProblem(schedule: string): string | undefined {
  if (SPECIAL_TIMETABLES.includes(schedule)) return undefined;
  const expression = AIRFLOW_CRON_PRESETS[schedule] ?? schedule;
  let expanded: Expanded;
  try {
    expanded = expand(expression);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const presets = [...Object.keys(AIRFLOW_CRON_PRESETS), ...SPECIAL_TIMETABLES].join(", ");
    return `is not a schedule Airflow accepts: ${e.message} (presets: ${presets})`;
  }
  if (expanded.usesRandom) {
    return "uses R (a random value), which Airflow draws again each time it parses the DAG file, so the schedule keeps moving; write the value you want";
  }
  if (expanded.fields.length === 7 && !(expanded.fields[YEAR].length === 1 && expanded.fields[YEAR][0] === "*")) {
    return "restricts the year (7th field); such a schedule stops firing when its years pass, and Airflow needs a past and a future run: use * for the year";
  }
  if (!fires(expanded)) {
    return "never fires: no month it names has that day of the month (Airflow would load the DAG and never run it)";
  }
  return undefined;
}

/** How often a schedule fires, for cost estimates (scripts/deploy/lifecycle-cost.ts). */
export type ScheduleFrequency =
  | { readonly kind: "once" }
  | { readonly kind: "continuous" }
  /** Average fire times per day over a whole Gregorian cycle (leap years, weekdays). */
  | { readonly kind: "cron"; readonly runsPerDay: number };

/** Days in 400 Gregorian years: the calendar, weekdays included, repeats after them. */
const GREGORIAN_CYCLE_DAYS = 146097;

/**
 * How often an accepted schedule fires: croniter's fields counted over a 400-year cycle, the two day
 * fields ORed when both are restricted (croniter's default `day_or`). Throws for a schedule Airflow
 * would refuse, and for the special day values (`L`, `W`, `#`), which are not counted here.
 */
export function scheduleFrequency(schedule: string): ScheduleFrequency {
  const problem = airflowScheduleProblem(schedule);
  if (problem) throw new Error(`schedule ${JSON.stringify(schedule)} ${problem}`);
  if (schedule === "@once") return { kind: "once" };
  if (schedule === "@continuous") return { kind: "continuous" };
  const e = expand(AIRFLOW_CRON_PRESETS[schedule] ?? schedule);
  if (e.usesNthWeekday || e.nearestWeekdays.size > 0 || e.fields.some((f) => f.some((v) => v !== "*" && typeof v === "string"))) {
    throw new Error(`schedule ${JSON.stringify(schedule)} uses a last, nearest or nth day (L, W, #), which is not counted here`);
  }
  const all = (field: number) => e.fields[field][0] === "*";
  const size = (field: number, whole: number) => (all(field) ? whole : e.fields[field].length);
  const has = (field: number, v: number) => all(field) || e.fields[field].includes(v);
  const firesPerMatchingDay = size(0, 60) * size(1, 24) * (e.fields.length >= 6 ? size(5, 60) : 1);
  let days = 0;
  let weekday = 6; // 2000-01-01 was a Saturday
  for (let year = 2000; year < 2400; year++) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    for (let month = 1; month <= 12; month++) {
      const length = month === 2 && !leap ? 28 : MAX_DAYS[month];
      for (let day = 1; day <= length; day++, weekday = (weekday + 1) % 7) {
        if (!has(MONTH, month)) continue;
        const dom = has(DAY, day);
        const dow = has(DOW, weekday);
        if (all(DAY) ? dow : all(DOW) ? dom : dom || dow) days++;
      }
    }
  }
  return { kind: "cron", runsPerDay: (days * firesPerMatchingDay) / GREGORIAN_CYCLE_DAYS };
}
