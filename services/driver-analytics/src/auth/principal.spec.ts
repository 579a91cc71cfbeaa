import { describe, expect, it } from "vitest";
import { ClaimsError, principalFromClaims } from "./principal.js";

describe("principalFromClaims", () => {
  it("reads a driver from sub driver:<id> and scopes from a space-separated scope", () => {
    expect(principalFromClaims({ sub: "driver:42" })).toEqual({ subject: "driver:42", driverId: 42n, scopes: new Set() });
    expect(principalFromClaims({ sub: "driver:9223372036854775807" }).driverId).toBe(9_223_372_036_854_775_807n);
    const service = principalFromClaims({ sub: "service:billing", scope: " driver-analytics:read  openid " });
    expect(service.driverId).toBeUndefined();
    expect([...service.scopes]).toEqual(["driver-analytics:read", "openid"]);
  });

  it("refuses subjects that do not name one driver canonically", () => {
    for (const sub of ["driver:", "driver:0", "driver:-1", "driver:+1", "driver:01", "driver:1.0", "driver:9223372036854775808", "driver: 1"]) {
      expect(() => principalFromClaims({ sub }), sub).toThrow(ClaimsError);
    }
    expect(() => principalFromClaims({})).toThrow("token has no subject");
    expect(() => principalFromClaims({ sub: "x", scope: 1 })).toThrow("token scope must be a string");
  });
});
