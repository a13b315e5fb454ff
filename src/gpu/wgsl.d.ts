// WGSL sources are imported as strings (`import src from './matvec.wgsl?raw'` under Vite).
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
