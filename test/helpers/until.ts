// Tests wait for a condition, never for a fixed time: the helper lives in bench/lib so the bench can use it too.
export { sleep, until, type UntilOptions } from '../../bench/lib/until.ts'
