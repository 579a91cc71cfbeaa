// Money arrives as an exact integer of minor units (int64, a bigint here);
// it is shown with exactly the currency's ISO 4217 minor-unit exponent and
// never goes through a float.

// ISO 4217 currencies whose minor unit is not 2 decimals. Everything else: 2.
const MINOR_UNIT_EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0,
  RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** minorUnitExponent is how many decimals one unit of the currency has (ISO 4217). */
export function minorUnitExponent(currencyCode: string): number {
  return MINOR_UNIT_EXPONENTS[currencyCode] ?? 2;
}

/** minorToDecimal writes amountMinor / 10^exponent exactly, e.g. (-1234n, 2) -> "-12.34". */
export function minorToDecimal(amountMinor: bigint, exponent: number): `${number}` {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? "-" : ""}${whole}${exponent > 0 ? `.${fraction}` : ""}` as `${number}`;
}

/** MoneyLike is the shape of driveranalytics.v1.Money. */
export interface MoneyLike {
  currencyCode: string;
  amountMinor: bigint;
}

/**
 * formatMoney formats an amount in its currency for the locale, with the
 * currency's own number of decimals. Intl.NumberFormat takes the decimal as a
 * string, so amounts beyond 2^53 minor units stay exact.
 */
export function formatMoney(money: MoneyLike, locale?: string): string {
  const exponent = minorUnitExponent(money.currencyCode);
  const format = new Intl.NumberFormat(locale, {
    style: "currency",
    currency: money.currencyCode,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  return format.format(minorToDecimal(money.amountMinor, exponent));
}
