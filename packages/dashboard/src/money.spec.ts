import { describe, expect, it } from "vitest";
import { formatMoney, minorToDecimal, minorUnitExponent } from "./money.js";

describe("money", () => {
  it("knows the ISO 4217 minor-unit exponents", () => {
    expect(minorUnitExponent("USD")).toBe(2);
    expect(minorUnitExponent("EUR")).toBe(2);
    expect(minorUnitExponent("JPY")).toBe(0);
    expect(minorUnitExponent("KWD")).toBe(3);
    expect(minorUnitExponent("CLF")).toBe(4);
  });

  it("writes minor units as an exact decimal", () => {
    expect(minorToDecimal(123456n, 2)).toBe("1234.56");
    expect(minorToDecimal(5n, 2)).toBe("0.05");
    expect(minorToDecimal(-5n, 3)).toBe("-0.005");
    expect(minorToDecimal(0n, 2)).toBe("0.00");
    expect(minorToDecimal(1500n, 0)).toBe("1500");
    expect(minorToDecimal(9_223_372_036_854_775_807n, 2)).toBe("92233720368547758.07");
  });

  it("formats in the currency with its own decimals", () => {
    expect(formatMoney({ currencyCode: "USD", amountMinor: 123456n }, "en-US")).toBe("$1,234.56");
    expect(formatMoney({ currencyCode: "EUR", amountMinor: 123456n }, "de-DE")).toBe("1.234,56\u00a0€");
    expect(formatMoney({ currencyCode: "JPY", amountMinor: 1500n }, "en-US")).toBe("¥1,500");
    expect(formatMoney({ currencyCode: "KWD", amountMinor: 1234n }, "en-US")).toBe("KWD\u00a01.234");
    // Beyond Number.MAX_SAFE_INTEGER minor units, still exact.
    expect(formatMoney({ currencyCode: "USD", amountMinor: 9_007_199_254_740_993n }, "en-US")).toBe("$90,071,992,547,409.93");
  });
});
