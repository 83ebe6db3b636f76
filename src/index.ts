/** The public surface: what main.ts and the sandbox may import. */
export { loadConfig, loadTargets, ConfigError, type AppConfig, type Target, type TargetsConfig } from './config.js';
export { startBot, type RunningBot, type StartOptions, type Role } from './bot.js';
export { createLogger, type Logger } from './log.js';
