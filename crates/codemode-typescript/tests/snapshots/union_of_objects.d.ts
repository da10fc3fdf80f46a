type OddUnionOfObjectsInput = {
  shape: {
    kind: "circle";
    /** @minimum 0 */
    radius: number;
  } | {
    kind: "rect";
    w: number;
    h: number;
  };
  id?: string | number | null;
  note?: string | null;
  not_this?: unknown;
};
/** Not declared by the tool: its JSON result, or its text. */
type OddUnionOfObjectsOutput = any;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    union_of_objects(input: OddUnionOfObjectsInput): Promise<OddUnionOfObjectsOutput>;
  };
};
