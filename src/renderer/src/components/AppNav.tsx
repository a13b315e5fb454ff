// The app's views, in the left column: Chat, Discover (the model hub), My models, Storage and Servers/API.
import { Icon, type IconName } from './icons';

export type AppView = 'chat' | 'discover' | 'models' | 'storage' | 'servers';

const VIEWS: readonly { view: AppView; label: string; icon: IconName }[] = [
  { view: 'chat', label: 'Chat', icon: 'chat' },
  { view: 'discover', label: 'Discover', icon: 'discover' },
  { view: 'models', label: 'My models', icon: 'models' },
  { view: 'storage', label: 'Storage', icon: 'storage' },
  { view: 'servers', label: 'Servers / API', icon: 'servers' },
];

export interface AppNavProps {
  readonly view: AppView;
  readonly onView: (view: AppView) => void;
  /** A download is running: Discover says so. */
  readonly downloading: boolean;
}

export function AppNav({ view, onView, downloading }: AppNavProps) {
  return (
    <nav className="app-nav" aria-label="Views">
      <ul>
        {VIEWS.map((v) => (
          <li key={v.view}>
            <button type="button" data-testid={`view-${v.view}`} aria-current={view === v.view ? 'page' : undefined} onClick={() => onView(v.view)}>
              <Icon name={v.icon} />
              <span>{v.label}</span>
              {v.view === 'discover' && downloading && (
                <span className="badge" data-testid="downloading-badge">
                  downloading
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
