type OddWildInputsInput = {
  /** Non-standard type */
  options: {
    [key: string]: unknown;
  };
  /**
   * Integer with a string default
   * @default "10"
   */
  limit?: number;
  /** No type at all */
  anything?: unknown;
  tags?: unknown[];
  labels?: {
    [key: string]: string;
  };
  /** @example "a" */
  mode?: "a" | "b";
};
/** Not declared by the tool: its JSON result, or its text. */
type OddWildInputsOutput = any;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    wild_inputs(input: OddWildInputsInput): Promise<OddWildInputsOutput>;
  };
};
