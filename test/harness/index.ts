// The Slack wire for tests: a fake Web API the bot calls, and signed requests Slack would send.
export { FakeSlack } from '../../sandbox/fake-slack/server.js';
export type {
  FakeSlackEventMap,
  FakeSlackOptions,
  RecordedCall,
  StoredMessage,
  StoredView,
} from '../../sandbox/fake-slack/types.js';
export { BOT_ID, BOT_USER_ID, TEAM_ID } from '../../sandbox/fake-slack/types.js';
export { SlackWire, signSlackRequest } from '../../sandbox/slack-wire.js';
export type {
  BlockActionsOptions,
  PostOptions,
  SlackWireOptions,
  SlashCommandOptions,
  ViewPayloadInput,
  WireResponse,
} from '../../sandbox/slack-wire.js';
