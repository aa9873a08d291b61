// jest for the cdktf stack and the rendered hosts: ts-jest compiles TypeScript in-process.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/__tests__/**/*.test.ts"],
  transform: {
    // isolatedModules: type checking is done once by `tsc --noEmit` in scripts/test/test-stack.sh;
    // re-checking every test file (and the generated bindings) in jest would double the run time.
    "^.+\\.tsx?$": [
      "ts-jest",
      {
        diagnostics: false,
        tsconfig: { isolatedModules: true, target: "ES2022", module: "CommonJS", esModuleInterop: true, resolveJsonModule: true, inlineSourceMap: true },
      },
    ],
  },
  moduleFileExtensions: ["ts", "js", "json", "node"],
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
  // one worker: the machine is shared and synth is CPU-bound.
  maxWorkers: 1,
};
