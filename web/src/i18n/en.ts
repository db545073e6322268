/**
 * The English catalogue, and the list of every message the client shows. `{name}` marks a value put
 * in by `t(key, { name })`. A new string goes here and in ko.ts (the type makes a missing one an error).
 */
export const en = {
  'app.name': 'Plaza',
  'app.skipToContent': 'Skip to content',
  'app.loading': 'Loading…',
  'app.notFound': 'There is no page here.',
  'app.notBuilt': 'This part of the web client is not built yet. The API already offers it: see {docs}.',
  'app.apiDocs': 'the API reference',

  'nav.label': 'Main',
  'nav.home': 'Home',
  'nav.explore': 'Main page',
  'nav.notifications': 'Notifications',
  'nav.memos': 'Memos',
  'nav.recordings': 'Recordings',
  'nav.wallet': 'Wallet',
  'nav.profile': 'Profile',
  'nav.settings': 'Settings',
  'nav.signIn': 'Sign in',
  'nav.signUp': 'Sign up',

  'language.label': 'Language',

  'auth.signInTitle': 'Sign in to Plaza',
  'auth.signUpTitle': 'Create your Plaza account',
  'auth.email': 'Email',
  'auth.password': 'Password',
  'auth.passwordHint': 'At least 8 characters.',
  'auth.name': 'Name',
  'auth.handle': 'Handle (optional)',
  'auth.handleHint': '3 to 30 of a–z, 0–9 and _. Made for you when left empty.',
  'auth.signIn': 'Sign in',
  'auth.signUp': 'Sign up',
  'auth.signOut': 'Sign out',
  'auth.orWith': 'Or continue with',
  'auth.withProvider': 'Continue with {provider}',
  'auth.noAccount': 'No account yet?',
  'auth.haveAccount': 'Already have an account?',
  'auth.returning': 'Signing you in…',
  'auth.signedInAs': 'Signed in as {name} (@{handle})',

  'error.invalid_credentials': 'That email and password do not match an account.',
  'error.email_taken': 'An account with that email exists already. Sign in instead.',
  'error.handle_taken': 'That handle is taken. Try another one.',
  'error.invalid_request': 'Please check the form: {detail}',
  'error.rate_limited': 'Too many tries. Wait a moment and try again.',
  'error.account_exists': 'An account with that email exists already. Sign in with your password, then link the provider in settings.',
  'error.access_denied': 'The sign-in was cancelled.',
  'error.network_error': 'Plaza could not be reached. Check your connection and try again.',
  'error.unsupported_media_type': 'That file type is not supported.',
  'error.payload_too_large': 'That file is too large.',
  'error.generic': 'Something went wrong ({code}). Try again.',

  'timeline.homeTitle': 'Home',
  'timeline.exploreTitle': 'Main page',
  'timeline.empty': 'No posts yet.',
  'timeline.homeEmpty': 'No posts yet. Follow people, or write the first post.',
  'timeline.loadMore': 'Load more',
  'timeline.end': 'You have seen every post.',
  'timeline.retry': 'Try again',
  'timeline.signInPrompt': 'Sign in to follow people and post.',

  'post.by': 'Post by {name}',
  'post.like': 'Like',
  'post.unlike': 'Unlike',
  'post.likes': '{count} likes',
  'post.photo': 'Photo {index} of {count}',
  'post.video': 'Video',
  'post.audio': 'Audio',
  'post.processing': 'Still processing…',
  'post.locked': 'Paid post: {price} coins (buying is not built yet)',
  'post.followersOnly': 'Followers only',

  'compose.label': 'Write a post',
  'compose.placeholder': 'What is happening?',
  'compose.count': '{count} / {max}',
  'compose.tooLong': '{over} characters too many',
  'compose.addPhotos': 'Add photos',
  'compose.photosLimit': 'Up to {max} photos.',
  'compose.removePhoto': 'Remove photo {index}',
  'compose.post': 'Post',
  'compose.posting': 'Posting…',
  'compose.uploading': 'Uploading photos…',
  'compose.posted': 'Posted.',

  'settings.title': 'Settings',
  'settings.account': 'Account',
  'settings.more': 'Password, linked sign-in providers and deleting the account are not built yet.',

  // — profiles, likes, compose options and settings —


  // — paid posts, wallet and library —


  // — live events, notifications and push —
  'live.newPosts.one': '{count} new post',
  'live.newPosts.other': '{count} new posts',
  'live.newPostsMissed': 'Show the newest posts',
  'live.unread': '{count} unread',
  'notifications.title': 'Notifications',
  'notifications.filter': 'Show',
  'notifications.all': 'All',
  'notifications.unread': 'Unread',
  'notifications.follow': '{name} followed you',
  'notifications.like': '{name} liked your post',
  'notifications.purchase': '{name} bought your post',
  'notifications.new_post': '{name} posted',
  'notifications.new': 'New',
  'notifications.empty': 'No notifications yet. When someone follows you or likes your posts, you will see it here.',
  'notifications.emptyUnread': 'Nothing unread.',
  'notifications.end': 'You have seen every notification.',
  'notifications.markRead': 'Mark all as read',
  'notifications.marking': 'Marking…',
  'post.pageTitle': 'Post',
  'push.title': 'Push notifications',
  'push.explain': 'Hear of new notifications on this device, even when Plaza is closed.',
  'push.turnOn': 'Turn on push notifications',
  'push.turnOff': 'Turn off push notifications',
  'push.on': 'Push notifications are on in this browser.',
  'push.unsupported': 'This browser cannot receive push notifications.',
  'push.denied': 'Notifications are blocked for Plaza in this browser. Allow them in the site settings, then try again.',
  'push.browserFailed': 'This browser could not subscribe to push notifications ({reason}). Try again later.',
  'error.push_unavailable': 'Push notifications are not set up on this Plaza server.',
  'error.push_subscription_taken': 'This browser’s push subscription belongs to another account.',


  // — memos, recordings and voice posts —
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;
