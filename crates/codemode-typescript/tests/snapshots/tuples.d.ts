type OddTuplesInput = {
  /** @minItems 2 */
  point?: [number, number];
  /** @minItems 2 */
  legacy_pair?: [string, number];
  /** @minItems 1 */
  head_and_rest?: [string, ...number[]];
};
/** Not declared by the tool: its JSON result, or its text. */
type OddTuplesOutput = any;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    tuples(input?: OddTuplesInput): Promise<OddTuplesOutput>;
  };
};
