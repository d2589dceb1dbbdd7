// ESLint 9 flat config: `npm run lint` (check) and `npm run format` (fix what can be fixed).
//
// - typescript-eslint's recommended rules on every TypeScript file, syntax only (fast);
// - @pulumi/eslint-plugin's no-output-in-template-literal, which needs the type checker, only
//   where Pulumi Outputs live (index.ts and components/): an Output in a plain template literal
//   renders "Calling [toString] on an [Output<T>] is not supported" instead of its value;
// - no layout rules: Prettier owns the layout (.prettierrc.json: 120 columns, 4 spaces, double
//   quotes), checked by `npm run lint` and applied by `npm run format`.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        ignores: ["node_modules/**", "**/node_modules/**", "bin/**", "**/bin/**", "docs/**", ".pulumi/**"],
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        languageOptions: {
            ecmaVersion: 2022,
            sourceType: "module",
        },
        rules: {
            // Tests and the mock harness poke at loosely typed engine payloads on purpose.
            "@typescript-eslint/no-explicit-any": "off",
            // CommonJS project: lazy `require` after setMocks is how the mock runtime must load a program.
            "@typescript-eslint/no-require-imports": "off",
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
            ],
            // `this` aliasing in mocha's function () {} callbacks is fine; non-null assertions are deliberate.
            "@typescript-eslint/no-non-null-assertion": "off",
            "no-constant-condition": ["error", { checkLoops: false }],
            eqeqeq: ["error", "always", { null: "ignore" }],
            "prefer-const": "error",
            "no-var": "error",
        },
    },
    {
        // Where Pulumi Outputs flow: type-aware, through the TypeScript project service (only these
        // files are type-checked by the linter, which keeps `npm run lint` fast).
        files: ["index.ts", "components/**/*.ts"],
        languageOptions: {
            parserOptions: {
                projectService: true,
                tsconfigRootDir: import.meta.dirname,
            },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
        },
    },
    {
        files: ["**/*.mjs", "**/*.js", "**/*.cjs"],
        languageOptions: {
            globals: {
                process: "readonly",
                console: "readonly",
                require: "readonly",
                module: "writable",
                __dirname: "readonly",
            },
        },
        // CommonJS files (.mocharc.cjs) import with require().
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
