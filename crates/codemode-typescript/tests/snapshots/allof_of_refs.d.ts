type OddAllofOfRefsInput = OddAllofOfRefsInputNamed & OddAllofOfRefsInputTimestamped & {
  extra?: boolean;
};
type OddAllofOfRefsInputNamed = {
  name: string;
};
type OddAllofOfRefsInputTimestamped = {
  /** @format date-time */
  at?: string;
};
/** Not declared by the tool: its JSON result, or its text. */
type OddAllofOfRefsOutput = any;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    allof_of_refs(input?: OddAllofOfRefsInput): Promise<OddAllofOfRefsOutput>;
  };
};
