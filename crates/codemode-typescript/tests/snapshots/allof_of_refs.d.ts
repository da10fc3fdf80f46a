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
type OddAllofOfRefsOutput = unknown;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    allof_of_refs(input?: OddAllofOfRefsInput): Promise<OddAllofOfRefsOutput>;
  };
};
