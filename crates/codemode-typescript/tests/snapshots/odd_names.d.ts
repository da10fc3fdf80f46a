type OddOddNamesInput = {
  "content-type"?: string;
  "2fa"?: boolean;
  /** A reserved word is fine as a property: *\/ even with a comment end */
  delete?: boolean;
  "with space"?: string;
  $ref_like?: string;
  [key: string]: string | boolean | undefined;
};
/** Not declared by the tool: its JSON result, or its text. */
type OddOddNamesOutput = any;
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    odd_names(input?: OddOddNamesInput): Promise<OddOddNamesOutput>;
  };
};
