import { describe, expect, it } from "vitest";
import type { ModelInfo } from "../src/api";
import { defaultState, type State } from "../src/state";
import { Store, targetLabel } from "../src/store";
import { INFO } from "./info";

function model(run: string, name: string, extra: Partial<ModelInfo> = {}): ModelInfo {
  return {
    run,
    model: name,
    step: null,
    steps: [],
    format: "gensim-word2vec",
    path: `${run}/${name}`,
    vocab_size: 10,
    dim: 4,
    error: null,
    status: "not loaded",
    training: null,
    index: null,
    ...extra,
  };
}

describe("Store", () => {
  it("tells subscribers which fields changed, until they unsubscribe", () => {
    const store = new Store(INFO);
    const seen: Partial<State>[] = [];
    const stop = store.subscribe((p) => seen.push(p));
    store.setState({ q: "king", k: 5 });
    expect(store.state.q).toBe("king");
    expect(store.state.k).toBe(5);
    stop();
    store.setState({ q: "queen" });
    expect(seen).toEqual([{ q: "king", k: 5 }]);
  });

  it("chooses a usable model when the state names none or a missing one", () => {
    const store = new Store(INFO, { ...defaultState(INFO), run: "b", model: "gone", step: 7 });
    store.setModels([model("a", "m1"), model("b", "broken", { status: "error" }), model("b", "ok")], "/logs");
    const seen: Partial<State>[] = [];
    store.subscribe((p) => seen.push(p));
    store.chooseDefaults();
    // Same run first, skipping the model that failed to load; the step is dropped.
    expect(store.target()).toEqual({ run: "b", model: "ok", step: null });
    expect(seen).toEqual([{ run: "b", model: "ok", step: null }]);
    expect(store.logdir).toBe("/logs");
  });

  it("keeps a chosen model but drops a step it does not have", () => {
    const store = new Store(INFO, { ...defaultState(INFO), run: "a", model: "m", step: 3 });
    store.setModels([model("a", "m", { step: 2, steps: [1, 2] })]);
    store.chooseDefaults();
    expect(store.target()).toEqual({ run: "a", model: "m", step: null });
    store.setState({ step: 1 });
    store.chooseDefaults();
    expect(store.target()).toEqual({ run: "a", model: "m", step: 1 });
  });

  it("does nothing without models", () => {
    const store = new Store(INFO);
    store.chooseDefaults();
    expect(store.target()).toBeNull();
    expect(store.current()).toBeUndefined();
  });

  it("looks models up by run", () => {
    const store = new Store(INFO);
    store.setModels([model("a", "x"), model("b", "y"), model("a", "z", { status: "loading" })]);
    expect(store.runs()).toEqual(["a", "b"]);
    expect(store.modelsOf("a").map((m) => m.model)).toEqual(["x", "z"]);
    expect(store.find("b", "y")?.model).toBe("y");
    expect(store.find("b", "x")).toBeUndefined();
    expect(store.loading().map((m) => m.model)).toEqual(["z"]);
  });

  it("replaces the rows of some models, keeping the others and their order", () => {
    const store = new Store(INFO);
    store.setModels([model("a", "x"), model("b", "y", { status: "loading" })]);
    store.updateModels([model("b", "y", { status: "ok", vocab_size: 99 }), model("c", "new")]);
    expect(store.models.map((m) => [m.model, m.status, m.vocab_size])).toEqual([
      ["x", "not loaded", 10],
      ["y", "ok", 99],
    ]);
  });

  it("suggests another run of the same model, then another step, then any other model", () => {
    const store = new Store(INFO, { ...defaultState(INFO), run: "a", model: "m" });
    store.setModels([model("a", "m", { step: 3, steps: [1, 2, 3] }), model("b", "m"), model("c", "other", { status: "error" }), model("d", "other")]);
    const cur = store.target()!;
    const first = store.suggestTarget([cur]);
    expect(first).toEqual({ run: "b", model: "m", step: null });
    // The latest step (3) is the chosen one, so the newest other step comes next.
    expect(store.suggestTarget([cur, first!])).toEqual({ run: "a", model: "m", step: 2 });
    const taken = [cur, first!, { run: "a", model: "m", step: 2 }, { run: "a", model: "m", step: 1 }, { run: "a", model: "m", step: null }];
    // A model that failed to load comes only when nothing else is left.
    expect(store.suggestTarget(taken)).toEqual({ run: "d", model: "other", step: null });
    expect(store.suggestTarget([...taken, { run: "d", model: "other", step: null }])).toEqual({ run: "c", model: "other", step: null });
  });

  it("labels targets, the logdir root as (root)", () => {
    expect(targetLabel({ run: ".", model: "w2v", step: null })).toBe("(root) / w2v");
    expect(targetLabel({ run: "r", model: "m", step: 5 })).toBe("r / m @ 5");
  });
});
