import { describe, expect, it } from "vitest";
import { SampleRecorder } from "./sample-recorder.js";

describe("SampleRecorder", () => {
  it("keeps at most 1,000 distinct error messages and folds the rest into one entry", () => {
    const recorder = new SampleRecorder();
    // grpc-js deadline messages embed timings: every one is different.
    for (let i = 0; i < 5_000; i++) recorder.record(i, 1, 4, `Deadline exceeded after ${i}.001s`, 0);
    expect(recorder.length).toBe(5_000);
    expect(recorder.errorMessages.length).toBeLessThanOrEqual(1_001);
    const folded = recorder.errorMessages.at(-1)!;
    expect(folded).toMatch(/more distinct error messages/);
    const foldedId = recorder.errorMessages.indexOf(folded);
    expect(Array.from(recorder.error).filter((id) => id === foldedId)).toHaveLength(5_000 - 999);
  });
});
