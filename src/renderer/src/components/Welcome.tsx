// The empty chat: the next step for someone who just opened the app. Pick a suggested model (Discover), import a
// GGUF file, link a folder of them, or add the models another app already downloaded; the built-in story model is the
// offline demo.
import { useState } from 'react';
import type { LinkedFolderScan, ModelInfo } from '../../../shared/api';
import { Icon, type IconName } from './icons';
import { LinkOutcomeLine, type LinkOutcome } from './LinkedFolders';

export interface WelcomeProps {
  readonly models: readonly ModelInfo[];
  /** The model a message now goes to, if one is loaded (or a remote server's). */
  readonly readyWith: string | null;
  readonly onDiscover: () => void;
  readonly onImport: () => void;
  readonly onFindLocal: () => void;
  /** Links a folder of models (main's dialog); null when the user cancels. */
  readonly onLinkFolder: () => Promise<LinkedFolderScan | null>;
  readonly onDemo: (modelId: string) => void;
}

/** The model shipped with the app (registered in place by main on first start). */
export const isBuiltInModel = (m: ModelInfo): boolean => m.name.endsWith('(built in)');

function Step({ icon, title, text, action, testId, onClick, disabled }: { icon: IconName; title: string; text: string; action: string; testId: string; onClick: () => void; disabled?: boolean }) {
  return (
    <li className="step">
      <Icon name={icon} size={22} />
      <h3>{title}</h3>
      <p className="muted">{text}</p>
      <button type="button" data-testid={testId} onClick={onClick} disabled={disabled}>
        {action}
      </button>
    </li>
  );
}

export function Welcome({ models, readyWith, onDiscover, onImport, onFindLocal, onLinkFolder, onDemo }: WelcomeProps) {
  const [linked, setLinked] = useState<LinkOutcome>(null);
  const linkFolder = () =>
    void onLinkFolder().then(
      (scan) => setLinked(scan && { scan }),
      (e: Error) => setLinked({ error: e.message }),
    );
  const demo = models.find(isBuiltInModel);
  const ownModels = models.filter((m) => !isBuiltInModel(m)).length;
  return (
    <section className="welcome" data-testid="welcome" aria-labelledby="welcome-title">
      <h2 id="welcome-title">{readyWith ? `Chat with ${readyWith}` : 'Start with a model'}</h2>
      <p className="muted empty">Type a message to start{readyWith ? ` with ${readyWith}` : ''}. Everything runs on this computer; nothing leaves it.</p>
      {ownModels === 0 && (
        <ol className="steps" aria-label="Get a model">
          <Step
            icon="discover"
            title="Pick a suggested model"
            text="Small chat models that run on this GPU, checked before download."
            action="Open Discover"
            testId="welcome-discover"
            onClick={onDiscover}
          />
          <Step icon="upload" title="Import a file" text="A .gguf model you already have; it is checked and copied into the library." action="Import a .gguf file…" testId="welcome-import" onClick={onImport} />
          <Step
            icon="folder"
            title="Use models on disk"
            text="Models LM Studio, Ollama, llama.cpp or the Hugging Face cache downloaded stay where they are."
            action="Find models on this computer"
            testId="welcome-find-local"
            onClick={onFindLocal}
          />
          <Step
            icon="folder"
            title="Link a folder"
            text="The folder where you keep .gguf files: its models join the library where they are, and new ones at each start."
            action="Link a folder…"
            testId="welcome-link-folder"
            onClick={linkFolder}
          />
          {demo && (
            <Step
              icon="sparkle"
              title="Try the offline demo"
              text={`${demo.name}: a tiny story model, built in. It writes children's stories, not answers.`}
              action="Use the story model"
              testId="welcome-demo"
              onClick={() => onDemo(demo.id)}
            />
          )}
        </ol>
      )}
      <LinkOutcomeLine outcome={linked} />
    </section>
  );
}
