type OddRecursiveTreeInput = {
  root: OddRecursiveTreeInputNode;
};
/** A tree node */
type OddRecursiveTreeInputNode = {
  label: string;
  children?: OddRecursiveTreeInputNode[];
};
type OddRecursiveTreeOutput = OddRecursiveTreeOutputResult;
type OddRecursiveTreeOutputResult = {
  depth?: number;
  self?: OddRecursiveTreeOutput;
};
declare const tools: {
  odd: {
    /** A tool with a tricky schema. */
    recursive_tree(input: OddRecursiveTreeInput): Promise<OddRecursiveTreeOutput>;
  };
};
